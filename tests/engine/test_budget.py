"""The time budget: a program that hangs (past its deadline, or stuck) pays it once per check,
and a few times per exercise (once in quick mode) before the exercise's remaining runs are skipped."""
import types

import pytest

from graders.devtools import bench
from graders.engine import checks, manifest
from graders.engine.grading import PROCESSES, grade
from graders.engine.checks import MAX_TIMEOUTS, QUICK_MAX_TIMEOUTS, CheckFailure, Student, TimeBudget
from graders.engine.report import render
from graders.engine.results import NOT_RUN, CheckResult, ExerciseResult, GradeResult, Run
from graders.engine.run import Hang, Outcome

def hang_in(budget: TimeBudget, check: str) -> CheckFailure:
    """One run of `check` that reached its deadline, as Student.finished records it."""
    student = Student(exercise=None, submission="", lib="", start_method="forkserver", budget=budget, check=check)
    with pytest.raises(CheckFailure) as raised:
        student.finished(Outcome(hang=Hang(reason="deadline", waited=10.0)), "sell(db, 3)")
    return raised.value


def skipped(budget: TimeBudget, check: str) -> CheckFailure:
    """What the next run of `check` says: it must fail without starting a process (exercise=None would fail)."""
    student = Student(exercise=None, submission="", lib="", start_method="forkserver", budget=budget, check=check)
    with pytest.raises(CheckFailure) as raised:
        student.run("probe")
    return raised.value


def test_a_check_that_hung_fails_its_later_runs_with_the_same_failure():
    budget = TimeBudget()
    first = hang_in(budget, "a")
    assert skipped(budget, "a") is first


@pytest.mark.parametrize("limit, told", [(MAX_TIMEOUTS, f"{MAX_TIMEOUTS} times"), (QUICK_MAX_TIMEOUTS, "once")])
def test_after_the_limit_the_exercise_runs_nothing_more(limit, told):
    budget = TimeBudget(limit=limit)
    for n in range(limit):
        hang_in(budget, f"check{n}")
    failure = skipped(budget, "another check").failure
    assert failure.kind == "hang"
    assert failure.summary.startswith("not run") and f"{told} in this exercise" in failure.summary


def test_below_the_limit_other_checks_still_run():
    budget = TimeBudget(limit=2)
    hang_in(budget, "a")
    student = Student(exercise=None, submission="", lib="", start_method="forkserver", budget=budget, check="b")
    with pytest.raises(AttributeError):  # it went on to start the probe, with no exercise to start it from
        student.run("probe")


def test_the_report_tells_a_skipped_run_plainly_and_its_hint_once():
    budget = TimeBudget(limit=1)
    hang_in(budget, "a")
    failure = skipped(budget, "b").failure
    checks = [CheckResult(name=n, title=f"check {n}", weight=1, runs=[Run("forkserver", False, 0.0, failure)])
              for n in ("b", "c")]
    result = GradeResult(exercises=[ExerciseResult(name="lock", title="t", checks=checks)], start_methods=["forkserver"])
    lines = render(result, colour=False, unicode=True).splitlines()
    skipped_lines = [line.strip() for line in lines if "not run" in line]
    assert skipped_lines == ["under forkserver: " + failure.summary,  # not "the same mistake as in ..."
                             'under forkserver: not run either, for the reason given under "check b" above']
    assert sum("hint: Fix the hang reported above first." in line for line in lines) == 1


def test_a_submission_that_blocks_in_every_call_gets_a_stuck_hang_for_each_check_and_pays_a_few(tmp_path):
    """Every run of every check would be stuck for STALL seconds; the budget counts stuck hangs
    too, so each check's verdict is its first stuck hang (or a run not started after the limit)."""
    exercise = manifest.load()["lock"]
    path = tmp_path / exercise.stub
    path.write_text(bench.blocking_source(exercise))
    result = grade([exercise], sources={"lock": path})
    runs = [r for c in result.exercises[0].checks for r in c.runs]
    assert runs and not any(r.passed for r in runs)
    stuck = [r for r in runs if not r.failure.summary.startswith(NOT_RUN)]
    assert all(r.failure.kind == "hang" for r in runs)
    assert all("never finished" in r.failure.summary for r in stuck), [r.failure.summary for r in stuck]
    assert 1 <= len(stuck) <= PROCESSES * MAX_TIMEOUTS


def test_a_hang_counts_once_whether_or_not_the_check_calls_finished(monkeypatch):
    """A check that tells a hang in its own words (rush's) never calls finished(): the run counts."""
    monkeypatch.setattr(checks, "run_probe", lambda **params: Outcome(hang=Hang(reason="stuck", waited=2.0)))
    budget = TimeBudget(limit=2)
    exercise = types.SimpleNamespace(module="prog", deadline=5.0)
    for name, call_finished in (("a", True), ("b", False)):
        student = Student(exercise=exercise, submission="", lib="", start_method="fork", budget=budget, check=name)
        outcome = student.run("probe")
        if call_finished:
            with pytest.raises(CheckFailure):
                student.finished(outcome, "sell(db, 3)")
    assert budget.timeouts == 2 and set(budget.by_check) == {"a", "b"}
    assert "sell(db, 3)" in budget.by_check["a"].failure.summary  # the check's own words replace the first
    assert skipped(budget, "c").failure.summary.startswith(NOT_RUN)
