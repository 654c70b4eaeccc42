"""What leaves the kit: the handout holds no solution and no hidden check, and grades a stub;
the autograder grades a submission the way Gradescope runs it; the workflows call real commands."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

import jsonschema
import pytest

from graders.engine import catalog, manifest

from graders.sandbox import users
from graders.engine.manifest import KIT

EXERCISES = manifest.load()
LOCK = EXERCISES["lock"]
SCHEMA = json.loads((KIT / "tests" / "classroom" / "schemas" / "gradescope.schema.json").read_text())


def kit(*args, cwd=KIT, env=None):
    return subprocess.run([sys.executable, "-m", "graders", *args], cwd=cwd, capture_output=True, text=True, env=env)


def files_of(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()}


def fix_lines(exercise) -> list[str]:
    """What makes the solution a solution: its lines the stub does not have (short ones aside)."""
    stub = {line.strip() for line in (exercise.exercise_dir / exercise.stub).read_text().splitlines()}
    return [line.strip() for line in (exercise.solution_dir / exercise.stub).read_text().splitlines()
            if len(line.strip()) > 12 and line.strip() not in stub]


@pytest.fixture
def world_readable():
    """A folder the sandbox user can enter (tmp_path's parents are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="kit-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def handout():
    out = Path(tempfile.mkdtemp(prefix="kit-test-"))
    out.chmod(0o755)  # as root, the sandbox user must read the handout's graders to grade in it
    done = kit("handout", "--out", str(out))
    assert done.returncode == 0, done.stderr
    yield out / "handout"
    shutil.rmtree(out, ignore_errors=True)


def test_the_handout_holds_no_solution_no_hidden_check_and_no_kit_tests(handout):
    files = files_of(handout)
    assert not [name for name in files if name.split("/")[0] in ("solutions", "tests", ".ci", ".git", ".kit", "dist")]
    for exercise in EXERCISES.values():
        assert (exercise.solution_dir / exercise.stub).read_text() not in files.values()
        fix = fix_lines(exercise)
        assert fix, f"{exercise.name}: the solution differs from the stub"
        for name, text in files.items():  # a hint may quote a line of the fix; a copy of it would hold most
            found = [line for line in fix if line in text]
            assert len(found) < len(fix) / 2, f"{exercise.name}: {name} holds the solution's fix: {found}"
        assert (handout / "exercises" / exercise.name / exercise.stub).read_text() == \
            (exercise.exercise_dir / exercise.stub).read_text()
        for check in catalog.checks_of(exercise):
            shipped = f"def test_{check.name}(" in files[f"graders/{exercise.name}/{check.path.name}"]
            assert shipped != check.hidden, f"{exercise.name}.{check.name} (hidden={check.hidden})"
            weighed = re.search(rf"^{check.name} = ", files["exercises.toml"], re.M) is not None
            assert weighed != check.hidden
            told = f"`{check.name}`" in files[f"exercises/{exercise.name}/README.md"]
            assert told != check.hidden, f"{exercise.name}.{check.name}: the README's table (hidden={check.hidden})"
    assert any(c.hidden for c in catalog.checks_of(LOCK)), "lock has hidden checks, so this test means something"
    readme = files["README.md"]
    assert readme == (KIT / "templates" / "handout" / "README.md").read_text().replace(
        "@EXERCISES@", "\n".join(line for line in readme.splitlines() if line.startswith("| `")))
    assert all(f"exercises/{e.name}/{e.stub}" in readme for e in EXERCISES.values())
    for word in ("For instructors", "nox -s tests", "tests/", "solutions/", "Gradescope autograder", "--submissions"):
        assert word not in readme, word
    for picture in re.findall(r"\]\(([^)]+)\)", readme):
        assert picture in files, picture
    pyproject = tomllib.loads(files["pyproject.toml"])
    assert set(pyproject["dependency-groups"]) == {"grade", "watch"} and "tool" not in pyproject
    assert files["requirements.lock"] == (KIT / "requirements.lock").read_text()
    assert set(re.findall(r"^def (\w+)\(session\)", files["noxfile.py"], re.M)) == {"grade", "hint", "status", "watch"}
    assert ".github/workflows/grade.yml" in files
    with zipfile.ZipFile(handout.with_suffix(".zip")) as archive:
        assert sorted(archive.namelist()) == sorted(files)


def test_a_fresh_clone_of_the_handout_works_with_the_student_readmes_commands(handout, tmp_path):
    """As a student runs it: hint first (one environment, no package), then grade (the locked packages
    into that same environment), then status; the kit's own state stays out of the way."""
    clone = Path(tempfile.mkdtemp(prefix="kit-clone-"))
    try:
        clone.chmod(0o755)
        shutil.copytree(handout, clone / "handout")
        folder = clone / "handout"
        env = dict(os.environ, KIT_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")

        def nox(*args):
            return subprocess.run([sys.executable, "-m", "nox", *args], cwd=folder, env=env, capture_output=True,
                                  text=True)

        done = nox("-s", "hint", "--", "lock")
        assert done.returncode == 0 and "Hint 1 of" in done.stdout, done.stdout + done.stderr
        python = folder / ".nox" / "student" / "bin" / "python"
        assert subprocess.run([str(python), "-c", "import pytest"], capture_output=True).returncode != 0
        done = nox("-s", "grade", "--", "lock", "--quick", "--checks", "buy_is_exclusive")
        assert done.returncode == 1 and "only one buyer is inside buy() at a time" in done.stdout, \
            done.stdout + done.stderr
        done = nox("-s", "status")
        assert done.returncode == 0 and "lock" in done.stdout, done.stdout + done.stderr
        assert [p.name for p in (folder / ".nox").iterdir()] == ["student"]
        installed = subprocess.run([str(python), "-c", "import pytest, hypothesis; print(pytest.__version__, "
                                    "hypothesis.__version__)"], capture_output=True, text=True).stdout.split()
        lock = (folder / "requirements.lock").read_text()
        assert {f"pytest=={installed[0]}", f"hypothesis=={installed[1]}"} == \
            {line.split()[0] for line in lock.splitlines() if line.startswith(("pytest==", "hypothesis=="))}
    finally:
        shutil.rmtree(clone, ignore_errors=True)


def test_the_handout_grades_a_stub_with_its_public_checks_only(handout):
    done = kit("grade", "lock", "--quick", cwd=handout, env=dict(os.environ, KIT_STATE_DIR=str(handout / ".kit")))
    assert done.returncode == 1, done.stdout + done.stderr
    public = [c for c in catalog.checks_of(LOCK) if not c.hidden]
    assert re.search(rf"lock: \d+/{len(public)} checks passed", done.stdout), done.stdout
    assert all(c.title in done.stdout for c in public)
    assert not [c.title for c in catalog.checks_of(LOCK) if c.hidden and c.title in done.stdout]


SPY = """
import glob as _glob
import os as _os

def _spy(root, log):
    # What a submission running as the sandbox user can read of the autograder: each try, and what it got.
    import graders
    mine = [_os.path.join(p, "lock") for p in graders.__path__]
    tries = [root + "/source/graders/lock/test_lock.py", root + "/source/exercises.toml", root + "/source",
             root + "/results", root + "/results/results.json"] + [f + "/test_lock.py" for f in mine]
    with open(log, "a") as out:
        out.write(f"uid {_os.getuid()}\\n")
        for path in tries:
            try:
                got = sorted(_os.listdir(path)) if _os.path.isdir(path) else open(path).read()
                out.write(f"READ {path}: {str(got)[:200]!r}\\n")
            except OSError as error:
                out.write(f"DENIED {path}: {type(error).__name__}\\n")
        found = _glob.glob(root + "/**/test_*.py", recursive=True) + [
            f for p in mine for f in _glob.glob(p + "/test_*.py")]
        out.write(f"FOUND {found}\\n")

_spy(ROOT, LOG)
"""


def autograder_layout(tmp_path: Path, exercises=("lock",)) -> Path:
    """dist/autograder.zip unzipped into ROOT/source as Gradescope does (readable by every user, as zips unpack)."""
    out = tmp_path / "dist"
    done = kit("autograder", *exercises, "--out", str(out))
    assert done.returncode == 0, done.stderr
    root = tmp_path / "autograder"
    with zipfile.ZipFile(out / "autograder.zip") as archive:
        assert not [n for n in archive.namelist() if n.startswith(("solutions/", "tests/"))]
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        archive.extractall(root / "source")
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)  # zipfile does not restore modes; Gradescope's unzip does
    (root / "submission" / "lock").mkdir(parents=True)
    return root


def run_autograder(root: Path, python=sys.executable) -> tuple[subprocess.CompletedProcess, dict]:
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), KIT_PYTHON=str(python))
    done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return done, results


@pytest.mark.skipif(not users.wanted(), reason="needs root: the submission runs as a sandbox user")
def test_the_autograder_keeps_the_checks_and_results_from_the_submission_and_its_output_from_students(
        world_readable):
    root = autograder_layout(world_readable)
    spy = world_readable / "spy"
    spy.mkdir(mode=0o777)
    spy.chmod(0o1777)
    log = spy / "log.txt"
    # Made here, by the folder's owner: each grading process's sandbox user appends to it (a file one of
    # them made, the others could not open to append in a sticky folder).
    log.touch()
    log.chmod(0o666)
    stub = (LOCK.exercise_dir / LOCK.stub).read_text()
    (root / "submission" / "lock" / LOCK.stub).write_text(
        stub + f"\nROOT, LOG = {str(root)!r}, {str(log)!r}\n" + SPY)
    done, results = run_autograder(root)

    seen = log.read_text()
    assert "DENIED" in seen and "uid 0" not in seen, seen  # the spy ran, as the sandbox user
    assert "READ" not in seen, seen
    for path in ("source/graders/lock/test_lock.py", "source", "results"):
        assert f"DENIED {root}/{path}: PermissionError" in seen, seen
    assert "FOUND []" in seen, seen
    for path in (root / "source", root / "results"):
        assert path.stat().st_mode & 0o077 == 0, oct(path.stat().st_mode)

    checks = catalog.checks_of(LOCK)
    hidden = [c for c in checks if c.hidden]
    public = [c for c in checks if not c.hidden]
    assert hidden and public
    visibility = {t["tags"][1]: t["visibility"] for t in results["tests"]}
    assert {visibility[c.name] for c in hidden} == {"after_due_date"}
    assert {visibility[c.name] for c in public} == {"visible"}
    assert 0 < results["score"] < 100
    # What a student sees before the due date: the top-level output and the visible tests.
    shown = results["output"] + "".join(t["name"] + t["output"] for t in results["tests"]
                                        if t["visibility"] == "visible")
    for check in hidden:
        assert check.title not in shown and check.name not in shown
        assert f"def test_{check.name}" not in json.dumps(results)
    assert re.fullmatch(rf"lock: \d+/{len(public)} visible checks passed; [^\d]*", results["output"]), \
        results["output"]
    assert "score" not in results["output"] and results["stdout_visibility"] == "hidden"


@pytest.mark.parametrize("python", ["/nonexistent/python", "/bin/false"])
def test_the_autograder_writes_results_when_the_grader_cannot_start(world_readable, python):
    root = autograder_layout(world_readable)
    (root / "submission" / "lock" / LOCK.stub).write_text((LOCK.exercise_dir / LOCK.stub).read_text())
    done, results = run_autograder(root, python)
    assert results["score"] == 0 and results["tests"] == []
    assert "could not run" in results["output"] and "instructor" in results["output"]
    assert "wrote no results" in done.stderr


def test_the_autograder_installs_the_locked_dependencies(world_readable):
    root = autograder_layout(world_readable)
    assert (root / "source" / "requirements.lock").read_text() == (KIT / "requirements.lock").read_text()
    setup = (root / "source" / "setup.sh").read_text()
    assert re.search(r"pip install .*--require-hashes .*-r /autograder/source/requirements.lock", setup)


def test_the_workflows_run_real_commands():
    tests = (KIT / ".github" / "workflows" / "tests.yml").read_text()
    assert "bash .ci/run" in tests
    classroom = (KIT / "templates" / "classroom" / "grade.yml").read_text()
    assert "actions/upload-artifact" in classroom
    options = re.findall(r"(--[a-z]+) results/", classroom)
    assert options, "the workflow writes results files"
    usage = kit("grade", "--help").stdout
    assert all(option in usage for option in options), options
