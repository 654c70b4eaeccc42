"""Sessions of the multiprocessing exercise kit. `nox -l` lists them."""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nox

nox.options.reuse_venv = "yes"
nox.options.sessions = ["grade"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
# The grading dependencies, pinned with their hashes: every session, the handout and the
# Gradescope autograder install exactly these, so a grade cannot drift during a term.
# `nox -s lock` updates it from pyproject.toml's dependency groups.
LOCK = Path("requirements.lock")
# One environment for every student session (grade, hint, status, watch): a venv each
# would cost a student four installs of the same packages.
STUDENT_ENV = Path(".nox") / "student"


def _install(session, group=None):
    """Install the lock file, then a dependency group's packages not in it, into the session's venv.

    Skipped when the venv already holds that exact lock and list: pip takes
    seconds even when there is nothing to do. A changed lock file, a new list
    or a new venv installs again.
    """
    extras = nox.project.dependency_groups(PYPROJECT, group) if group else ()
    location = getattr(session.virtualenv, "location", None)
    if _installed(location, extras):
        return
    session.install("--require-hashes", "--no-deps", "-r", str(LOCK))
    if extras:
        session.install(*extras)
    _stamp(location, extras)


def _student(session, *, packages=True) -> Path:
    """The students' one environment, made and filled from the lock file the first time; its python.

    `hint` and `status` need no package, so they only make the environment.
    uv, where a student has it, does both several times faster than virtualenv and pip.
    """
    python = STUDENT_ENV / "bin" / "python"
    uv = shutil.which("uv")
    if not python.exists():
        if uv:
            session.run(uv, "venv", "--quiet", "--python", sys.executable, str(STUDENT_ENV), external=True)
        else:
            session.run(sys.executable, "-m", "virtualenv", "--quiet", str(STUDENT_ENV), external=True)
    if packages and not _installed(STUDENT_ENV, ()):
        options = ("--require-hashes", "--no-deps", "-r", str(LOCK))
        if uv:
            session.run(uv, "pip", "install", "--quiet", "--python", str(python), *options, external=True)
        else:  # modules are compiled when first imported instead: a student waits for fewer of them
            session.run(str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-compile", *options, external=True)
        _stamp(STUDENT_ENV, ())
    return python


# pytest-xdist workers for the kit's own tests: twice the cores, as most of a grading is waiting
# (for the lockstep scheduler's looks, for processes to start), so one worker per core leaves them idle.
_WORKERS = str(2 * (os.cpu_count() or 1))


def _wanted(extras) -> str:
    return LOCK.read_text() + "\n".join(extras)


def _installed(location, extras) -> bool:
    stamp = Path(location) / "kit-installed.txt" if location else None
    return stamp is not None and stamp.is_file() and stamp.read_text() == _wanted(extras)


def _stamp(location, extras) -> None:
    if location:
        (Path(location) / "kit-installed.txt").write_text(_wanted(extras))


def _kit(session, *args, python=None):
    """Run `python -m graders ...` and exit with its own code (2 is a usage error).

    Ctrl-C at a terminal reaches the kit too; we wait for it to clean up and
    report instead of killing it. A SIGINT sent to nox alone is passed on, and
    so are SIGTERM and SIGHUP (an editor's stop button, a closed terminal), as
    SIGINT: the kit stops as it does on Ctrl-C, and nothing is left running.
    """
    python = python or Path(session.bin) / "python"
    kit = subprocess.Popen([str(python), "-m", "graders", *args])

    def pass_on(signum, frame):
        if kit.poll() is None:
            kit.send_signal(signal.SIGINT)

    previous = {s: signal.signal(s, pass_on) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
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
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if code:
        raise SystemExit(code)


@nox.session(venv_backend="none")
def grade(session):
    """Grade exercises: `nox -s grade -- lock` (no name grades all; `-- --help` for options)."""
    _kit(session, "grade", *session.posargs, python=_student(session))


@nox.session(venv_backend="none")
def hint(session):
    """Show the next hint for an exercise: `nox -s hint -- lock`."""
    _kit(session, "hint", *session.posargs, python=_student(session, packages=False))


@nox.session(venv_backend="none")
def status(session):
    """Show every exercise's state and last score, and your progress."""
    _kit(session, "status", *session.posargs, python=_student(session, packages=False))


@nox.session(venv_backend="none")
def watch(session):
    """Regrade an exercise on every save: `nox -s watch -- lock` (Ctrl-C stops)."""
    _kit(session, "watch", *session.posargs, python=_student(session))


@nox.session
def verify(session):
    """Self-check: stubs fail, solutions pass, every known-wrong variant is caught."""
    _install(session, "test")
    session.run("pytest", "tests/exercises", "-n", _WORKERS, "--dist", "worksteal", *session.posargs)


@nox.session(venv_backend="none")
def new(session):
    """Scaffold an exercise in every place it lives: `nox -s new -- NAME`, then `nox -s verify` lists what is left."""
    code = subprocess.call([sys.executable, "-m", "graders.devtools.new", *session.posargs])
    if code:
        raise SystemExit(code)


@nox.session
def tests(session):
    """The kit's own tests: engine unit tests and the verify self-check."""
    _install(session, "test")
    # worksteal: a worker that runs out of tests takes the other's, so a long grading near the end
    # does not leave one core idle.
    session.run("pytest", "-n", _WORKERS, "--dist", "worksteal", *session.posargs)


@nox.session
def bench(session):
    """Measure time to verdict and batch throughput; writes .kit/bench/report.md and .json."""
    _install(session)
    session.run("python", "-m", "graders.devtools.bench", *session.posargs)


@nox.session
def pictures(session):
    """Redraw the README's report pictures (docs/pictures/) from real grades of bank variants."""
    _install(session)
    session.run("python", "-m", "graders.devtools.pictures", *session.posargs)


@nox.session
def handout(session):
    """Build the student handout: dist/handout/ and dist/handout.zip (`-- lock` for some exercises)."""
    _install(session)
    _kit(session, "handout", *session.posargs)


@nox.session
def autograder(session):
    """Build the Gradescope autograder: dist/autograder.zip (`-- lock` for one assignment's exercises)."""
    _install(session)
    _kit(session, "autograder", *session.posargs)


@nox.session
def lock(session):
    """Update requirements.lock to the newest grading dependencies pyproject.toml allows (needs PyPI)."""
    session.install("uv")
    # --upgrade: without it, uv keeps every pin the old lock has and pyproject.toml still allows.
    session.run("uv", "pip", "compile", "--group", "watch", "--universal", "--python-version", "3.11",
                "--generate-hashes", "--upgrade", "--custom-compile-command", "nox -s lock", "--quiet",
                "-o", str(LOCK), *session.posargs)
