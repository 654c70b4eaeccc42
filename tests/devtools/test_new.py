"""`nox -s new -- NAME` scaffolds an exercise that runs, fails honestly, and says what is left to write."""
import json
import subprocess
import sys

import pytest

from graders.devtools import agreement, new
from graders.engine import catalog, manifest
from kit_copy import copy_kit


@pytest.fixture
def kit(tmp_path):
    return copy_kit(tmp_path / "kit")


def test_the_scaffold_is_in_every_place_an_exercise_lives(kit):
    written = new.scaffold("demo", root=kit)
    assert sorted(p.relative_to(kit).as_posix() for p in written) == [
        "README.md", "exercises.toml", "exercises/demo/README.md", "exercises/demo/demo.py", "graders/demo/__init__.py",
        "graders/demo/bank.toml", "graders/demo/probe.py", "graders/demo/test_demo.py", "solutions/demo/demo.py"]
    demo = manifest.load(kit / "exercises.toml")["demo"]
    assert [c.name for c in catalog.checks_of(demo)] == list(demo.checks) == ["first_check"]
    assert set(manifest.load(kit / "exercises.toml")) == set(manifest.load()) | {"demo"}


def test_agreement_lists_what_is_left_to_write_and_nothing_else(kit):
    assert agreement.problems(kit) == []
    new.scaffold("demo", root=kit)
    left = agreement.problems(kit)
    assert all("demo" in problem for problem in left), left
    assert "solutions/demo/demo.py is the stub itself: write the fix" in left
    assert any(p.startswith("graders/demo/bank.toml has no wrong variant") for p in left)
    assert "[demo] title is left to write" in left and "[demo] hint 1 is left to write" in left
    assert "README.md's row for demo is left to write" in left
    assert any(p.startswith("graders/demo/test_demo.py:") for p in left)
    assert not [p for p in left if "weight" in p or "table of checks" in p]  # the scaffold agrees with itself


def test_the_scaffold_is_graded_and_fails_honestly(kit):
    new.scaffold("demo", root=kit)
    done = subprocess.run([sys.executable, "-m", "graders", "grade", "demo", "--quick", "--json", str(kit / "out.json")],
                          cwd=kit, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    results = json.loads((kit / "out.json").read_text())
    (check,) = results["exercises"][0]["checks"]
    assert [run["passed"] for run in check["runs"]] == [False]
    assert check["runs"][0]["failure"]["summary"] == "this check is not written yet"


@pytest.mark.parametrize("name, why", [("demo-2", "is not a name"), ("class", "is not a name"),
                                       ("engine", "graders/'s own folders"), ("lock", "exists already")])
def test_a_name_that_cannot_be_an_exercise_is_a_usage_error(kit, name, why):
    with pytest.raises(new.UsageError, match=why):
        new.scaffold(name, root=kit)
    assert agreement.problems(kit) == []  # nothing half-written
