"""Submissions that set the figures a probe once kept in the student's process.

Every figure a verdict rests on is worked out by the grader from what it
observes (the scheduler's arrivals and batches, /proc); each submission here
forges what a probe used to count for itself, and must still fail the check
for the mistake it hides.
"""
from dataclasses import dataclass

import pytest

from graders.engine import manifest
from graders.engine.grade import grade

EXERCISES = manifest.load()


@dataclass(frozen=True)
class Forger:
    name: str
    about: str
    exercise: str
    edits: tuple  # (old, new) replacements in the reference solution
    check: str  # the check that must reject it
    expect: str  # a piece of its failure's summary


_TWO_RLOCKS = ("lock_A = lock_B = threading.RLock()", "lock_A = threading.RLock()\nlock_B = threading.RLock()")

FORGERS = [
    Forger("rlock_most_alive", "keeps the deadlocking order, runs its workers one after another, and sets the "
           "probe's old counter of live workers", "rlock",
           (_TWO_RLOCKS,
            ("""    for t in threads:
        t.start()
    for t in threads:
        t.join()""", """    for t in threads:
        t.start()
        t.join()
    pause.most_alive = workers"""),), "workers_run_together", "one after another"),
    Forger("rlock_left_running", "returns without joining, and hides its workers from threading.enumerate()",
           "rlock",
           (("""    for t in threads:
        t.join()
    return counters""", """    threading.enumerate = lambda: [threading.main_thread()]
    pause.left_running = 0
    return counters"""),), "waits_for_every_worker", "still running"),
]


@pytest.mark.parametrize("forger", FORGERS, ids=lambda f: f.name)
def test_a_forged_figure_changes_no_verdict(forger, tmp_path):
    exercise = EXERCISES[forger.exercise]
    source = (exercise.solution_dir / exercise.stub).read_text()
    for old, new in forger.edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    path = tmp_path / exercise.stub
    path.write_text(source)
    result = grade([exercise], sources={exercise.name: path}, methods=["forkserver"], checks=[forger.check])
    [check] = [c for c in result.exercises[0].checks if c.name == forger.check]
    failures = [r.failure for r in check.runs if not r.passed]
    assert failures, f"{forger.about}: {forger.check} passed"
    assert all(f.kind != "grader" for f in failures), failures
    assert any(forger.expect in f.summary for f in failures), f"{forger.about}: {failures[0].summary}"
