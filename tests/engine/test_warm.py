"""The warm grader of `watch`: the same verdicts and the same report as a cold grade, whichever checks
it runs first; each check's verdict told as it is decided; and nothing left once it is closed."""
import difflib
import re

import psutil

from graders.devtools import bank
from graders.engine import grading as cold, manifest
from graders.engine.checks import Student, TimeBudget
from graders.engine.live import LiveVerdicts
from graders.engine.report import render
from graders.engine.results import NOT_RUN
from graders.engine.run import Hang, Outcome
from graders.engine.warm import WarmGrader


# How long the grading took (the report's last line), and how long a hang waited ("after 5.8 s"): the
# wall clock's, different from one grading to the next, warm or cold.
SECONDS = re.compile(r"\b\d+(\.\d+)? s\b")
PIDS = re.compile(r"\b(process|processes) \d+")  # the kernel's numbers for the program's processes
# multiprocessing's names for them: which buyer took the lock first that the others wait for is the
# kernel's choice, cold or warm alike, so "Process-2 took it" may be "Process-3 took it" next time.
NAMES = re.compile(r"\bProcess-\d+")


def report(result) -> str:
    text = SECONDS.sub("N s", render(result, colour=False, unicode=True))
    return NAMES.sub("Process-N", PIDS.sub(r"\1 P", text))


def verdicts(result) -> list:
    return [(c.name, [(r.start_method, r.passed, r.failure and SECONDS.sub("N s", r.failure.summary))
                      for r in c.runs]) for e in result.exercises for c in e.checks]


def hang_at(budget: TimeBudget, position: int, check: str) -> None:
    student = Student(exercise=None, submission="", lib="", start_method="fork", budget=budget, check=check,
                      position=position)
    try:
        student.finished(Outcome(hang=Hang(reason="stuck", waited=2.0)), "sell(db, 3)")
    except Exception:
        pass


def test_hangs_spend_the_budget_by_their_place_in_the_usual_order_not_by_when_they_ran():
    budget = TimeBudget(limit=1)
    hang_at(budget, 5, "late")  # run first, as a watch does with the check that failed last
    assert not budget.spent(3) and not budget.spent(5)  # the usual order ran these before the hang
    assert budget.spent(6)
    hang_at(budget, 2, "early")
    assert budget.spent(3) and budget.spent(5)


def test_without_places_the_budget_counts_as_it_always_did():
    budget = TimeBudget(limit=2)
    hang_at(budget, None, "a")
    assert not budget.spent()
    hang_at(budget, None, "b")
    assert budget.spent() and budget.spent(0)


def test_a_warm_grade_says_what_a_cold_one_says_even_with_the_skipped_checks_run_first(tmp_path):
    """lock_kept_when_sold_out hangs in quick mode, so the usual order skips the checks after the hang
    (one would pass if run): run first, they are still told as not run, in the same words."""
    exercise = manifest.load()["lock"]
    [variant] = [v for v in bank.load("lock") if v.name == "lock_kept_when_sold_out"]
    source = tmp_path / exercise.stub
    source.write_text(variant.source(exercise))
    options = dict(sources={"lock": source}, methods=["forkserver"], quick=True)
    # One grading process: its first hang skips every later run, however the runs are split.
    cold_result = cold.grade([exercise], processes=1, **options)
    skipped = [c.name for c in cold_result.exercises[0].checks
               if any(r.failure and r.failure.summary.startswith(NOT_RUN) for r in c.runs)]
    assert skipped, verdicts(cold_result)  # else this test proves nothing about the order
    with WarmGrader([exercise], methods=["forkserver"], quick=True, processes=1) as warm:
        told = []
        live = LiveVerdicts(len(warm.slots), told.append, unicode=False)
        plain = warm.grade([exercise], **options)
        first = warm.grade([exercise], first=tuple(skipped), events=live, **options)
    assert verdicts(plain) == verdicts(cold_result)
    assert verdicts(first) == verdicts(cold_result)
    for warm_result in (plain, first):
        assert report(warm_result) == report(cold_result), "\n".join(difflib.unified_diff(
            report(cold_result).splitlines(), report(warm_result).splitlines(), "cold", "warm", lineterm=""))
    assert len(told) == len(cold_result.exercises[0].checks)  # every check's verdict, once
    titles = {c.name: c.title for c in cold_result.exercises[0].checks}
    assert any(titles[skipped[0]] in line for line in told[:len(skipped)]), told  # the ones run first came first


def test_a_warm_grader_closed_leaves_no_process_and_no_folder():
    exercise = manifest.load()["lock"]
    with WarmGrader([exercise], methods=["forkserver"], quick=True) as warm:
        spares, folders = [s.pytest.pid for s in warm.processes], [warm.folder]
        result = warm.grade([exercise], sources={"lock": exercise.solution_dir / exercise.stub},
                            methods=["forkserver"], quick=True)
        assert result.passed
        again = [s.pytest.pid for s in warm.processes]
        folders.append(warm.folder)
        assert set(again).isdisjoint(spares)  # a grading's pytest processes serve it alone
        assert not folders[0].exists()  # nor does its folder outlive it
    assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                   for pid in spares + again)
    assert not any(folder.exists() for folder in folders)


def test_a_check_is_told_once_its_last_run_in_any_process_has_ended():
    told = []
    live = LiveVerdicts(2, told.append, unicode=False)
    run = dict(exercise="lock", title="only one buyer is inside `buy()` at a time", passed=True)
    live(0, {"total": 2, "checks": {"lock/buy_is_exclusive": 1, "lock/rejects_bad_buyers": 1}})
    live(0, dict(run, check="buy_is_exclusive", start_method="fork"))
    assert told == []  # the other process may have runs of it still to come
    live(1, {"total": 2, "checks": {"lock/buy_is_exclusive": 2}})
    assert told == []  # it has: one of its three runs has ended
    live(1, dict(run, check="buy_is_exclusive", start_method="spawn", passed=False))
    live(0, dict(run, check="rejects_bad_buyers", start_method="forkserver", title="a bad number of buyers"))
    assert told == ["  ok a bad number of buyers"]
    live(1, dict(run, check="buy_is_exclusive", start_method="forkserver"))
    assert told[1] == "  FAIL only one buyer is inside 'buy()' at a time (under spawn)"
    assert live.failed == ["buy_is_exclusive"]
