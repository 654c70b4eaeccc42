"""What leaves the kit: the handout holds no solution and no hidden check, and grades a stub;
the autograder grades a submission the way Gradescope runs it; the workflows call real commands."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import jsonschema
import pytest

from graders.engine import catalog, manifest
from graders.engine.manifest import KIT

EXERCISES = manifest.load()
LOCK = EXERCISES["lock"]
SCHEMA = json.loads((KIT / "tests" / "formats" / "gradescope.schema.json").read_text())


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
    assert "For instructors" not in files["README.md"]
    assert set(re.findall(r"^def (\w+)\(session\)", files["noxfile.py"], re.M)) == {"grade", "hint", "status", "watch"}
    assert ".github/workflows/grade.yml" in files
    with zipfile.ZipFile(handout.with_suffix(".zip")) as archive:
        assert sorted(archive.namelist()) == sorted(files)


def test_the_handout_grades_a_stub_with_its_public_checks_only(handout):
    done = kit("grade", "lock", "--quick", cwd=handout, env=dict(os.environ, KIT_STATE_DIR=str(handout / ".kit")))
    assert done.returncode == 1, done.stdout + done.stderr
    public = [c for c in catalog.checks_of(LOCK) if not c.hidden]
    assert re.search(rf"lock: \d+/{len(public)} checks passed", done.stdout), done.stdout
    assert all(c.title in done.stdout for c in public)
    assert not [c.title for c in catalog.checks_of(LOCK) if c.hidden and c.title in done.stdout]


def test_the_autograder_grades_a_submission_as_gradescope_runs_it(world_readable):
    tmp_path = world_readable
    out = tmp_path / "dist"
    assert kit("autograder", "lock", "--out", str(out)).returncode == 0
    with zipfile.ZipFile(out / "autograder.zip") as archive:
        names = archive.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        root = tmp_path / "autograder"
        archive.extractall(root / "source")
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert not [n for n in names if n.startswith(("solutions/", "tests/"))]
    assert "def test_releases_lock_when_sold_out(" in (root / "source/graders/lock/test_lock.py").read_text()
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)  # zipfile does not restore modes; Gradescope's unzip does
    (root / "submission" / "lock").mkdir(parents=True)
    (root / "submission" / "lock" / LOCK.stub).write_text((LOCK.exercise_dir / LOCK.stub).read_text())
    root.chmod(0o755)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), KIT_PYTHON=sys.executable)
    done = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert 0 < results["score"] < 100
    visibility = {t["tags"][1]: t["visibility"] for t in results["tests"]}
    assert visibility["releases_lock_when_sold_out"] == "after_due_date"
    assert visibility["buy_is_exclusive"] == "visible"


def test_the_workflows_run_real_commands():
    tests = (KIT / ".github" / "workflows" / "tests.yml").read_text()
    assert "bash .ci/run" in tests
    classroom = (KIT / "templates" / "classroom" / "grade.yml").read_text()
    assert "actions/upload-artifact" in classroom
    options = re.findall(r"(--[a-z]+) results/", classroom)
    assert options, "the workflow writes results files"
    usage = kit("grade", "--help").stdout
    assert all(option in usage for option in options), options
