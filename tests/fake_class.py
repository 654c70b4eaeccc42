"""A class of 40 submissions of `lock`, the hostile ones among them, batch-graded once per test session.

Grading a class takes a while, so the tests that look at it share one batch:
the first test to ask runs it, under a lock file, into a folder named after
the test run (shared by pytest-xdist's workers), and the others read what it
wrote. It records the gradebook, the command's output, the processes left
running and the files patched, right after the batch ends.
"""
from __future__ import annotations

import atexit
import csv
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psutil

import hostile
from graders.sandbox import users
from graders.engine.manifest import KIT
from graders.devtools import bank

LOCK = hostile.LOCK
CHECK = "buy_is_exclusive"  # the solution passes it; the stub and every fake fail it
SIZE = 40
OPTIONS = ["lock", "--quick", "--checks", CHECK, "--jobs", "2"]


def make_class(root: Path, mark: str) -> dict[str, str]:
    """Right, wrong, missing and hostile submissions in every layout; the verdict each must get."""
    solution = (LOCK.solution_dir / LOCK.stub).read_text()
    stub = (LOCK.exercise_dir / LOCK.stub).read_text()
    expected = {}

    def student(name, text, layout="lock/tickets.py", verdict="failed"):
        path = root / name / layout
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            path.write_text(text)
        expected[name] = verdict

    layouts = ["lock/tickets.py", "exercises/lock/tickets.py", "tickets.py", "work/lock/tickets.py"]
    for i in range(7):
        student(f"right-{i}", solution, layouts[i % 4], "passed")
    for i in range(4):
        student(f"stub-{i}", stub, layouts[i % 4])
    for variant in [v for v in bank.load("lock") if v.expect == CHECK][:3]:
        student(f"wrong-{variant.name}", variant.source(LOCK))
    student("empty", None, "notes/", "missing")
    (root / "linked").mkdir()
    (root / "linked" / "tickets.py").symlink_to("/etc/passwd")  # never taken
    expected["linked"] = "missing"
    for case in hostile.HOSTILES:
        if not case.needs_sandbox_user or users.wanted():
            student(f"hostile-{case.name}", case.source(mark))
    for i in range(SIZE - len(expected)):
        student(f"late-right-{i}", solution, "lock/tickets.py", "passed")
    assert len(expected) == SIZE
    return expected


def survivors(mark: str) -> list[int]:
    found = []
    for proc in psutil.process_iter():
        try:
            env = proc.environ()
        except psutil.Error:
            continue
        if mark in (env.get("KIT_HOSTILE"), env.get("KIT_TEST_MARK")):
            found.append(proc.pid)
    return found


def graded_class() -> dict:
    """The batch's record: root, out, expected verdicts, return code, output, gradebook, survivors, patched."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    folder = Path(tempfile.gettempdir()) / f"kit-class-{run}"
    folder.mkdir(mode=0o755, exist_ok=True)
    with open(folder / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = folder / "record.json"
        if not record.exists():
            record.write_text(json.dumps(_grade(folder)))
            atexit.register(shutil.rmtree, folder, True)
        return json.loads(record.read_text())


def _grade(folder: Path) -> dict:
    mark = f"kit-class-{uuid.uuid4().hex}"
    root, out = folder / "class", folder / "grades"
    expected = make_class(root, mark)
    try:
        done = subprocess.run([sys.executable, "-m", "graders", "grade", *OPTIONS, "--submissions", str(root),
                               "--out", str(out)], cwd=KIT, capture_output=True, text=True,
                              env=dict(os.environ, KIT_TEST_MARK=mark))
    finally:
        patched = [str(p) for p in hostile.patched_files(mark)]
    left = survivors(mark)
    try:
        with open(out / "gradebook.csv", newline="") as f:
            book = {row["student"]: row for row in csv.DictReader(f)}
    except OSError:
        book = {}
    return {"root": str(root), "out": str(out), "expected": expected, "returncode": done.returncode,
            "output": done.stdout + done.stderr, "gradebook": book, "survivors": left, "patched": patched}
