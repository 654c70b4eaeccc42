"""Batch grading: a class of 40 with the hostile submissions among them, resuming, and layouts."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import fake_class
from graders.classroom.batch import MAX_STUB_SIZE, find_sources, grade_folder, why_missing
from graders.engine.manifest import KIT

LOCK = fake_class.LOCK
OPTIONS = fake_class.OPTIONS


def kit(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "graders", *args], cwd=KIT, capture_output=True, text=True,
                          env=env, **kwargs)


def gradebook(out):
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_a_class_of_40_with_hostile_submissions_gets_a_correct_gradebook():
    graded = fake_class.graded_class()
    expected, out = graded["expected"], Path(graded["out"])
    assert graded["returncode"] == 0, graded["output"]
    assert graded["patched"] == [], "a submission changed the kit"
    book = graded["gradebook"]
    assert {name: row["verdict"] for name, row in book.items()} == expected
    for name, row in book.items():
        assert row["exercise"] == "lock" and row["max"] == "100"
        assert row["score"] == ("100" if expected[name] == "passed" else "0"), (name, row)
        folder = out / "students" / name
        results = json.loads((folder / "results.json").read_text())
        assert results["exercises"][0]["score"] == int(row["score"])
        assert json.loads((folder / "gradescope.json").read_text())["score"] == int(row["score"])
        assert {"exercism.json", "junit.xml", "batch.json"} <= {p.name for p in folder.iterdir()}
    assert not list((out / "students").glob(".*"))
    assert graded["survivors"] == [], "processes left running"


def test_an_interrupted_batch_keeps_what_it_wrote_and_a_rerun_goes_on(tmp_path):
    mark = f"kit-batch-{uuid.uuid4().hex}"
    root, out = tmp_path / "class", tmp_path / "grades"
    solution = (LOCK.solution_dir / LOCK.stub).read_text()
    for i in range(8):
        (root / f"s{i}" / "lock").mkdir(parents=True)
        (root / f"s{i}" / "lock" / "tickets.py").write_text(solution)
    args = [sys.executable, "-m", "graders", "grade", *OPTIONS, "--jobs", "1", "--submissions", str(root),
            "--out", str(out)]
    batch = subprocess.Popen(args, cwd=KIT, env=dict(os.environ, KIT_TEST_MARK=mark), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        while not (out / "gradebook.csv").exists() or len(gradebook(out)) < 2:
            assert batch.poll() is None, batch.stdout.read()
            time.sleep(0.2)
        batch.send_signal(signal.SIGINT)
        assert batch.wait(timeout=120) == 130, batch.stdout.read()
    finally:
        if batch.poll() is None:
            os.killpg(batch.pid, signal.SIGKILL)
    kept = gradebook(out)
    assert 2 <= len(kept) < 8
    assert all(row["verdict"] == "passed" for row in kept.values())
    assert sorted(p.name for p in (out / "students").iterdir()) == sorted(kept)  # only whole folders
    stamps = {name: (out / "students" / name / "results.json").stat().st_mtime_ns for name in kept}
    assert fake_class.survivors(mark) == [], "the interrupted batch left processes running"

    again = subprocess.run(args, cwd=KIT, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(kept)} of 8 students already graded: skipped" in again.stdout
    book = gradebook(out)
    assert len(book) == 8 and all(row["verdict"] == "passed" for row in book.values())
    assert all((out / "students" / n / "results.json").stat().st_mtime_ns == t for n, t in stamps.items())


def test_the_stub_is_found_in_any_usual_layout_and_never_through_a_link(tmp_path):
    for layout in ("lock/tickets.py", "exercises/lock/tickets.py", "tickets.py", "a/b/lock/tickets.py"):
        folder = tmp_path / layout.replace("/", "-")
        (folder / layout).parent.mkdir(parents=True)
        (folder / layout).write_text("")
        assert find_sources(folder, [LOCK]) == {"lock": folder / layout}
    folder = tmp_path / "two"
    for layout in ("a/tickets.py", "b/tickets.py"):
        (folder / layout).parent.mkdir(parents=True)
        (folder / layout).write_text("")
    assert find_sources(folder, [LOCK]) == {"lock": None}  # which one? neither
    folder = tmp_path / "link"
    (folder / "lock").mkdir(parents=True)
    (folder / "lock" / "tickets.py").symlink_to(LOCK.exercise_dir / LOCK.stub)
    (folder / "elsewhere").symlink_to(LOCK.exercise_dir, target_is_directory=True)
    assert find_sources(folder, [LOCK]) == {"lock": None}


def test_odd_files_where_the_stub_should_be_are_missing_with_the_reason(tmp_path):
    cases = {"link": "is a link", "folder": "is a folder", "fifo": "is not a regular file",
             "huge": "is larger than 1 MiB"}
    for name, reason in cases.items():
        folder = tmp_path / name
        path = folder / "lock" / "tickets.py"
        path.parent.mkdir(parents=True)
        if name == "link":
            path.symlink_to(KIT / "solutions" / "lock" / "tickets.py")
        elif name == "folder":
            path.mkdir()
        elif name == "fifo":
            os.mkfifo(path)
        else:
            path.write_bytes(b"#" * (MAX_STUB_SIZE + 1))
        assert find_sources(folder, [LOCK]) == {"lock": None}, name
        assert reason in why_missing(folder, LOCK), name
        [exercise] = grade_folder(folder, [LOCK], methods=["forkserver"], checks=["rejects_bad_buyers"]).exercises
        [check] = exercise.checks
        assert reason in check.runs[0].failure.summary and check.runs[0].failure.kind == "missing"


def test_a_stub_that_is_not_utf8_is_graded_and_fails_for_it(tmp_path):
    path = tmp_path / "student" / "tickets.py"
    path.parent.mkdir()
    path.write_bytes(b"x = '\xff\xfe'\n")
    [exercise] = grade_folder(path.parent, [LOCK], methods=["forkserver"], checks=["rejects_bad_buyers"]).exercises
    failure = exercise.checks[0].runs[0].failure
    assert failure.kind != "grader" and "SyntaxError" in failure.summary, failure


@pytest.mark.parametrize("args, message", [
    (["--submissions", "no/such/folder"], "no such folder of submissions"),
    (["--submissions", "exercises", "--out", "exercises/grades"], "must not be inside"),
    (["--submissions", "exercises", "--submission", "exercises"], "not both"),
    (["--submissions", "exercises", "--formats", "pdf"], "unknown format 'pdf'"),
])
def test_batch_usage_errors_exit_2(args, message):
    done = kit("grade", "lock", *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
