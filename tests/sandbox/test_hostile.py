"""Each hostile submission ends as a failing grade, for the reason expected, with nothing left
running and nothing changed, in a batch where the others are graded as usual.

The submissions are graded once, in the class of 40 of `fake_class.py`, on one
check that the solution passes: a fake fails it on its own merits, and
`reads_solutions` would pass it if it could read solutions/.
"""
import json
import os
from pathlib import Path

import pytest

import fake_class
import hostile
from graders.sandbox import cleanup, users
@pytest.fixture(scope="module")
def graded():
    return fake_class.graded_class()


@pytest.mark.parametrize("case", hostile.HOSTILES, ids=lambda h: h.name)
def test_a_hostile_submission_fails_for_what_it_did(case, graded):
    if case.needs_sandbox_user and not users.wanted():
        pytest.skip("only the sandbox user (the grader running as root) holds against this one")
    name = f"hostile-{case.name}"
    row = graded["gradebook"][name]
    assert (row["verdict"], row["score"]) == ("failed", "0"), f"{case.about}: {row}"
    results = json.loads((Path(graded["out"]) / "students" / name / "results.json").read_text())
    [check] = results["exercises"][0]["checks"]
    failures = [run["failure"] for run in check["runs"]]
    assert failures and None not in failures
    assert all(f["kind"] != "grader" for f in failures), failures
    assert any(piece in f["summary"] for f in failures for piece in case.expect.split(" | ")), \
        f"{case.about}: {failures[0]['summary']}"
    assert graded["survivors"] == [], "processes left running"
    assert graded["patched"] == []


def test_the_check_is_one_the_solution_passes(graded):
    rights = [row for name, row in graded["gradebook"].items() if name.startswith(("right-", "late-right-"))]
    assert rights and all(row["verdict"] == "passed" for row in rights)


def test_nothing_of_the_sandbox_users_is_left_in_memory_files_or_ipc(graded):
    if not users.wanted():
        pytest.skip("only the sandbox users' leftovers can be told apart from the machine's")
    uids = set(users._uids())
    for folder in cleanup.SCRATCH:  # other gradings may be running: only the hostile ones' files are judged
        if os.path.isdir(folder):
            left = [e.name for e in os.scandir(folder) if e.name.startswith("kit-hostile")]
            assert left == [], f"{folder}: {left}"
    for kind in ("shm", "sem", "msg"):
        assert cleanup.sysv_objects(kind, uids) == [], kind
