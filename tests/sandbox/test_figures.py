"""Figures a verdict rests on are the grader's own, not what the program says of itself.

The probe runs inside the student's processes, so whatever it counts there the program can
rewrite. Each submission below makes a mistake and rewrites the figure that would tell it (a
counter a probe once kept, the pools it saw left open, the marks of a win), and must still end
as a failing grade for that mistake: the grader counts for itself (the arrivals and batches of
the scheduler, the processes it saw alive in /proc, the puts it let through) and treats what
comes back from the child as a claim.
"""
from dataclasses import dataclass

import pytest

from graders.engine import manifest
from graders.engine.grading import grade

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


@dataclass(frozen=True)
class Rewrite:
    exercise: str
    about: str
    check: str
    method: str
    edits: tuple  # (old, new) pairs on the reference solution

    def source(self) -> str:
        exercise = EXERCISES[self.exercise]
        text = (exercise.solution_dir / exercise.stub).read_text()
        for old, new in self.edits:
            assert text.count(old) == 1, old
            text = text.replace(old, new)
        return text


REWRITES = {
    "pool_unclosed": Rewrite(
        "pool", "leaves its pool running, kept alive by a global, and takes it out of the probe's count of "
                "unclosed pools", "leaves_no_worker", "forkserver",
        (("""    pool = multiprocessing.Pool(processes)
    try:
        pending = [pool.apply_async(func, (a,)) for a in args]  # every task in flight first
        return [result.get() for result in pending]  # then wait, in the order of args
    finally:
        pool.close()
        pool.join()""", """    pool = multiprocessing.Pool(processes)
    _KEPT.append(pool)
    probe = sys.modules.get("graders.pool.probe")
    if probe is not None and pool in probe.POOLS:
        probe.POOLS.remove(pool)  # "unclosed": 0
    pending = [pool.apply_async(func, (a,)) for a in args]
    return [result.get() for result in pending]


_KEPT = []"""),)),
    "consumer_still_running": Rewrite(
        "consumer", "goes on after STOP, and makes every consumer look ended to the probe",
        "stop_ends_consumers", "forkserver",
        (("""            q.task_done()  # the producer's second q.join() waits for this
            return""", """            q.task_done()
            continue"""),
         ("""STOP = None  # the producer puts""", """multiprocessing.Process.is_alive = lambda self: False  # "still running": none
STOP = None  # the producer puts"""))),
    "rush_winners_hidden": Rewrite(
        "rush", "reads the winners before joining (a get frees a phone), and each user switches off the "
                "grader's marks in its process after arriving", "sold_out_stays_sold_out", "forkserver",
        (("""    for p in processes:
        p.join()  # every user has tried: taking a winner off before would free a phone
    return [q.get() for _ in range(min(users, stock))]""", """    ranking = [q.get() for _ in range(min(users, stock))]
    for p in processes:
        p.join()
    return ranking"""),
         ("""        arrive(user_id)  # the grader's start line: every user rushes at the same moment""",
          """        arrive(user_id)  # the grader's start line: every user rushes at the same moment
        probe = sys.modules.get("graders.rush.probe")
        if probe is not None:
            probe._now["pause"] = None  # no "put" nor "won" marks from here on"""))),
}


@pytest.mark.parametrize("name", REWRITES)
def test_a_rewritten_figure_still_fails(name, tmp_path):
    case = REWRITES[name]
    exercise = EXERCISES[case.exercise]
    path = tmp_path / exercise.stub
    path.write_text(case.source())
    result = grade([exercise], sources={exercise.name: path}, methods=[case.method], checks=[case.check])
    [check] = [c for c in result.exercises[0].checks if c.name == case.check]
    failures = [r.failure for r in check.runs if not r.passed]
    assert failures, f"{case.about}: passed {case.check}"
    assert all(f.kind != "grader" for f in failures), failures
