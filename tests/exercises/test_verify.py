"""The kit's self-check: every stub fails, every solution passes, and every
variant in the bank gets the verdict it was written for."""
import re

import pytest

from graders.engine import manifest
from graders.engine.grading import grade
from graders.engine.settings import START_METHODS
from graders.engine.report import render
from graders.devtools import bank

EXERCISES = manifest.load()
VARIANTS = [v for name in EXERCISES for v in bank.load(name)]


def failures(result):
    return {c.name: [r.failure for r in c.runs if not r.passed] for c in result.exercises[0].checks}


@pytest.mark.parametrize("name", EXERCISES)
def test_stub_fails(name):
    result = grade([EXERCISES[name]], methods=["forkserver"], quick=True)  # as a student's first grade
    assert not result.passed, f"the stub of {name} passes its grader"
    kinds = {f.kind for fs in failures(result).values() for f in fs}
    assert "grader" not in kinds, failures(result)


@pytest.mark.parametrize("name", EXERCISES)
def test_solution_passes(name):
    exercise = EXERCISES[name]
    result = grade([exercise], sources={name: exercise.solution_dir / exercise.stub}, methods=START_METHODS)
    assert result.passed, {k: v for k, v in failures(result).items() if v}


CRASH_FIRST = "of your program died of an exception"  # engine/checks.py crash_failure


def text_of(failure) -> str:
    return "\n".join([failure.summary, failure.hint or "", *failure.details])


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_bank_variant(variant, tmp_path):
    """A correct variant passes; a wrong one fails its check under each start method it ran under,
    and the first failure names the mistake: every word of `message`, none of `not_message`.

    For CI time, each in one grading process: a correct variant with quick mode's number of generated
    cases (every check, under all its methods; the solutions are graded in full above), and a wrong one
    with its check only, under all its methods. One process gives the verdict several do: a correct
    variant never hangs, and a check's runs under three methods cannot use up a process's time budget."""
    exercise = EXERCISES[variant.exercise]
    path = tmp_path / exercise.stub
    path.write_text(variant.source(exercise))
    if variant.expect == "pass":
        result = grade([exercise], sources={exercise.name: path}, methods=variant.methods, quick=True,
                       processes=1)
        assert result.passed, f"{variant.about}: {failures(result)}"
        return
    result = grade([exercise], sources={exercise.name: path}, methods=variant.methods, checks=[variant.expect],
                   processes=1)
    (check,) = [c for c in result.exercises[0].checks if c.name == variant.expect] or [None]
    assert check is not None, f"no check named {variant.expect}"
    passed = [r.start_method for r in check.runs if r.passed]
    assert not passed, f"{variant.about}: check {variant.expect} did not reject it under {passed}"
    first = check.runs[0].failure  # the start methods in order: fork, spawn, forkserver
    for run in check.runs:
        assert run.failure.kind != "grader", run.failure
        text = text_of(run.failure)
        missing = [m for m in variant.message if m not in text]
        hidden = " (a crash told first hides the mistake)" if CRASH_FIRST in run.failure.summary else ""
        assert not missing, (f"{variant.about}: under {run.start_method} the {'first ' * (run.failure is first)}"
                             f"failure does not say {missing}{hidden}:\n{text}")
        wrong = [m for m in variant.not_message if m in text]
        assert not wrong, f"{variant.about}: under {run.start_method} the failure says {wrong}:\n{text}"


@pytest.mark.parametrize("name", EXERCISES)
def test_bank_covers_exercise(name):
    """Each exercise has wrong variants in the bank, and each names a real check."""
    variants = bank.load(name)
    assert any(v.expect != "pass" for v in variants), f"{name} has no known-wrong variants"
    for v in variants:
        assert v.expect == "pass" or v.expect in EXERCISES[name].checks, v.id
        assert set(v.methods) <= set(START_METHODS), v.id
        assert v.expect == "pass" or v.message, f"{v.id}: a wrong variant must say which words name its mistake"


# Wrong variants whose mistake breaks many checks at once, graded whole (quick mode, for CI time):
# a crash (whose message names a temporary file), a pickling error, a deadlock, an item marked done
# too early.
TOLD_ONCE = ["lock.checks_what_it_oversold", "pool.nested_task_function", "rlock.two_rlocks_opposite_orders",
             "lock.lock_kept_when_sold_out"]
_UNDER = re.compile(r"^under [a-z, ]+: ")
# The one line that points back at a mistake told in full above: short, and meant to repeat.
_BACK = re.compile(r"^(the same mistake as|not run either|stuck at the same lines as in|hint: the one under|"
                   r"This works under fork only, as under)\b")


def sentences(report: str) -> list[str]:
    """The report's lines that say something (a summary, a hint, a note, a detail), without
    their indent and the start methods they happened under; titles and steps left out."""
    said = []
    for line in report.splitlines():
        text = _UNDER.sub("", line.strip())
        if line.startswith("      ") and len(text) >= 30 and not re.match(r"(step \d+|failing case):", text) \
                and not _BACK.match(text):
            said.append(text)
    return said


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.id in TOLD_ONCE], ids=lambda v: v.id)
def test_each_mistake_is_told_once(variant, tmp_path):
    exercise = EXERCISES[variant.exercise]
    path = tmp_path / exercise.stub
    path.write_text(variant.source(exercise))
    result = grade([exercise], sources={exercise.name: path}, methods=["forkserver"], quick=True)
    report = render(result, colour=False, unicode=True)
    failed = [c for c in result.exercises[0].checks if not c.passed]
    assert len(failed) > 1, f"{variant.id} breaks one check only: it shows nothing here\n{report}"
    repeated = sorted({s for s in sentences(report) if sentences(report).count(s) > 1})
    assert not repeated, f"{variant.id}: said more than once: {repeated}\n{report}"
