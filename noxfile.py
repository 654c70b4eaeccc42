"""Sessions of the multiprocessing exercise kit. `nox -l` lists them."""
import signal
import subprocess
from pathlib import Path

import nox

nox.options.reuse_venv = "yes"
nox.options.sessions = ["grade"]

PYPROJECT = nox.project.load_toml("pyproject.toml")


def _install(session, group):
    """Install a dependency group, skipping pip when the venv already holds that exact list.

    pip takes seconds even when there is nothing to do, and the student pays
    them on every `nox -s grade`. A new list (pyproject.toml changed) or a new
    venv installs again.
    """
    wanted = nox.project.dependency_groups(PYPROJECT, group)
    location = getattr(session.virtualenv, "location", None)
    stamp = Path(location) / f"kit-installed-{group}.txt" if location else None
    if stamp is not None and stamp.is_file() and stamp.read_text() == "\n".join(wanted):
        return
    session.install(*wanted)
    if stamp is not None:
        stamp.write_text("\n".join(wanted))


def _kit(session, *args):
    """Run `python -m graders ...` and exit with its own code (2 is a usage error).

    Ctrl-C at a terminal reaches the kit too; we wait for it to clean up and
    report instead of killing it. A SIGINT sent to nox alone is passed on.
    """
    kit = subprocess.Popen([str(Path(session.bin) / "python"), "-m", "graders", *args])
    while True:
        try:
            code = kit.wait()
            break
        except KeyboardInterrupt:
            try:
                code = kit.wait(timeout=3)
                break
            except subprocess.TimeoutExpired:
                kit.send_signal(signal.SIGINT)
            except KeyboardInterrupt:
                continue
    if code:
        raise SystemExit(code)


@nox.session
def grade(session):
    """Grade exercises: `nox -s grade -- lock` (no name grades all; `-- --help` for options)."""
    _install(session, "grade")
    _kit(session, "grade", *session.posargs)


@nox.session
def hint(session):
    """Show the next hint for an exercise: `nox -s hint -- lock`."""
    _install(session, "grade")
    _kit(session, "hint", *session.posargs)


@nox.session
def status(session):
    """Show every exercise's state and last score, and your progress."""
    _install(session, "grade")
    _kit(session, "status", *session.posargs)


@nox.session
def watch(session):
    """Regrade an exercise on every save: `nox -s watch -- lock` (Ctrl-C stops)."""
    _install(session, "watch")
    _kit(session, "watch", *session.posargs)


@nox.session
def verify(session):
    """Self-check: stubs fail, solutions pass, every known-wrong variant is caught."""
    _install(session, "test")
    session.run("pytest", "tests/verify", "-n", "auto", *session.posargs)


@nox.session
def tests(session):
    """The kit's own tests: engine unit tests and the verify self-check."""
    _install(session, "test")
    session.run("pytest", "-n", "auto", *session.posargs)


@nox.session
def bench(session):
    """Measure time to verdict and batch throughput; writes .kit/bench/report.md and .json."""
    _install(session, "grade")
    session.run("python", "-m", "graders.bench", *session.posargs)


@nox.session
def pictures(session):
    """Redraw the README's report pictures (docs/pictures/) from real grades of bank variants."""
    _install(session, "grade")
    session.run("python", "-m", "graders.pictures", *session.posargs)


@nox.session
def handout(session):
    """Build the student handout: dist/handout/ and dist/handout.zip (`-- lock` for some exercises)."""
    _install(session, "grade")
    _kit(session, "handout", *session.posargs)


@nox.session
def autograder(session):
    """Build the Gradescope autograder: dist/autograder.zip (`-- lock` for one assignment's exercises)."""
    _install(session, "grade")
    _kit(session, "autograder", *session.posargs)
