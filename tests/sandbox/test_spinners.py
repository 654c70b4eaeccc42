"""A submission that burns both cores, with processes that escape into sessions of their own,
changes nothing for a classmate graded at the same time.

The spinner (hostile.SPINNER) starts 30 processes that call setsid() and fork
once: 60 processes spin for 8.5 s, under the deadline. It and the reference
solution are graded at once, by two gradings with slots of their own. No
timing is asserted: only that the classmate gets the verdict and score it
gets alone, with no run of it told as a hang, that the spinner fails for
what it did, and that nothing of either is left. As root with cgroup v1's cpu
controller, every spinner, session leader or its child, is seen in its
slot's CPU group while it spins.
"""
import json
import os
import subprocess
import sys
import time
import uuid

import psutil

import fake_class
import hostile
from graders.sandbox import resources, users
from graders.engine.manifest import KIT

LOCK = hostile.LOCK


def start_grade(submission, results, mark, *options):
    return subprocess.Popen([sys.executable, "-m", "graders", "grade", "lock", *options, "--submission",
                             str(submission), "--json", str(results)], cwd=KIT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=dict(os.environ, KIT_TEST_MARK=mark))


def finish(grading) -> str:
    output, _ = grading.communicate(timeout=600)
    assert grading.returncode in (0, 1), output  # graded: passed, or a check failed
    return output


def verdict(results) -> tuple:
    [exercise] = json.loads(results.read_text())["exercises"]
    return exercise["passed"], exercise["score"], {c["name"]: [r["passed"] for r in c["runs"]]
                                                   for c in exercise["checks"]}


def spinners(mark) -> dict[int, tuple[int, int, int, str]]:
    """{pid: (uid, session, parent, cpu cgroup)} of the submission's processes running now. Not its
    zombies: an exited process shows the root group, and no longer runs."""
    found = {}
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("KIT_TEST_MARK") != mark or (users.wanted() and proc.uids().real == 0):
                continue  # not the submission's: the grading processes carry the mark too
            with open(f"/proc/{proc.pid}/cgroup") as f:
                group = next((line.split(":", 2)[2].strip() for line in f
                              if "cpu" in line.split(":")[1].split(",")), "")
            if proc.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):  # after the look: it may have just ended
                continue
            found[proc.pid] = (proc.uids().real, os.getsid(proc.pid), proc.ppid(), group)
        except (psutil.Error, OSError):
            continue
    return found


def test_sixty_spinners_in_sessions_of_their_own_change_nothing_for_a_classmate(tmp_path):
    solution = tmp_path / "classmate" / LOCK.stub
    solution.parent.mkdir()
    solution.write_text((LOCK.solution_dir / LOCK.stub).read_text())
    spinner_mark, classmate_mark = (f"kit-spin-{uuid.uuid4().hex}" for _ in range(2))
    spinner = tmp_path / "spinner" / LOCK.stub
    spinner.parent.mkdir()
    spinner.write_text(hostile.SPINNER.source(spinner_mark))
    for folder in (tmp_path, solution.parent, spinner.parent):
        folder.chmod(0o755)

    alone = tmp_path / "alone.json"
    finish(start_grade(solution, alone, classmate_mark))

    spun = tmp_path / "spinner.json"
    beside = tmp_path / "beside.json"
    grading = start_grade(spinner, spun, spinner_mark, "--quick", "--checks", "buy_is_exclusive")
    seen = {}
    try:
        while len(seen) < 60 and grading.poll() is None:  # the spinners are up: the classmate starts now
            seen.update(spinners(spinner_mark))
            time.sleep(0.05)
        classmate = start_grade(solution, beside, classmate_mark)
        while classmate.poll() is None and grading.poll() is None:
            seen.update(spinners(spinner_mark))
            time.sleep(0.2)
        told = finish(classmate)
    finally:
        spinner_output = finish(grading)

    assert verdict(beside) == verdict(alone), told
    passed, score, _ = verdict(alone)
    assert passed and score == 100
    runs = [r for c in json.loads(beside.read_text())["exercises"][0]["checks"] for r in c["runs"]]
    assert not [r["failure"] for r in runs if not r["passed"]], "the classmate failed a run beside the spinner"

    [exercise] = json.loads(spun.read_text())["exercises"]
    failures = [r["failure"] for c in exercise["checks"] for r in c["runs"]]
    assert exercise["score"] == 0 and failures and None not in failures, spinner_output
    assert all(f["kind"] != "grader" for f in failures), failures
    assert any(piece in f["summary"] for f in failures for piece in hostile.SPINNER.expect.split(" | ")), failures

    assert fake_class.survivors(spinner_mark) == [] and fake_class.survivors(classmate_mark) == []
    leaders = [pid for pid, (_, session, _, _) in seen.items() if session == pid]
    children = [pid for pid, (_, _, parent, _) in seen.items() if parent in leaders]
    assert len(leaders) >= 30 and children, f"the spinners were never seen: {len(seen)} processes"
    if users.wanted() and os.access(resources.CPU_GROUPS, os.W_OK):
        outside = {pid: (uid, group) for pid, (uid, _, _, group) in seen.items() if group != f"/kit-{uid}"}
        assert outside == {}, "processes of the spinner outside its slot's CPU group"
