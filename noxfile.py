"""Sessions of the multiprocessing exercise kit. `nox -l` lists them."""
import subprocess
from pathlib import Path

import nox

nox.options.reuse_venv = "yes"
nox.options.sessions = ["grade"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _kit(session, *args):
    """Run `python -m graders ...` and exit with its own code (2 is a usage error)."""
    code = subprocess.call([str(Path(session.bin) / "python"), "-m", "graders", *args])
    if code:
        raise SystemExit(code)


@nox.session
def grade(session):
    """Grade exercises: `nox -s grade -- lock` (no name grades all)."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "grade"))
    _kit(session, "grade", *session.posargs)


@nox.session
def verify(session):
    """Self-check: stubs fail, solutions pass, every known-wrong variant is caught."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("pytest", "tests/verify", "-n", "auto", *session.posargs)


@nox.session
def tests(session):
    """The kit's own tests: engine unit tests and the verify self-check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("pytest", "-n", "auto", *session.posargs)
