"""Results are data: JSON in, JSON out, and the report is rendered from it."""
from pathlib import Path

from graders.engine.report import render
import copy

from graders.engine.results import GradeResult, combine

GOLDEN = Path(__file__).parent / "golden"


def test_results_survive_a_round_trip_through_json():
    result = GradeResult.from_json((GOLDEN / "lock-stub.json").read_text())
    again = GradeResult.from_json(result.to_json())
    assert again == result


def test_score_counts_only_checks_passed_under_every_start_method():
    exercise = GradeResult.from_json((GOLDEN / "lock-stub.json").read_text()).exercises[0]
    assert [c.passed for c in exercise.checks] == [True, False, False]
    assert (exercise.checks_passed, exercise.score) == (1, 20)


def test_the_report_matches_the_golden_file():
    result = GradeResult.from_json((GOLDEN / "lock-stub.json").read_text())
    assert render(result, colour=False, unicode=True) == (GOLDEN / "lock-stub.txt").read_text().rstrip("\n")


def _split(result: GradeResult, share: int, count: int) -> GradeResult:
    """What one of `count` grading processes returns: every count-th run, from the share-th."""
    part = copy.deepcopy(result)
    runs = [(e, c, r) for e in part.exercises for c in e.checks for r in c.runs]
    mine = {id(r) for r in [r for _, _, r in runs][share::count]}
    for exercise in part.exercises:
        for check in exercise.checks:
            check.runs = [r for r in check.runs if id(r) in mine]
        exercise.checks = [c for c in exercise.checks if c.runs]
    part.exercises = [e for e in part.exercises if e.checks]
    return part


def test_shares_of_a_grading_combine_into_the_whole_in_manifest_order():
    whole = GradeResult.from_json((GOLDEN / "lock-stub.json").read_text())
    order = {"lock": [c.name for c in whole.exercises[0].checks]}
    for count in (1, 2, 3):
        parts = [_split(whole, share, count) for share in range(count)]
        assert combine(list(reversed(parts)), order) == whole, count


def test_the_programs_control_characters_are_shown_never_obeyed():
    """An exception message that clears the screen, moves the cursor up over the report and writes
    the clipboard (OSC 52) is shown as text, in the report and in every results file."""
    result = GradeResult.from_json((GOLDEN / "lock-stub.json").read_text())
    run = next(r for c in result.exercises[0].checks for r in c.runs if r.failure)
    failure = run.failure
    hostile = "\x1b[2J\x1b[1A  ✓ all passed\x1b]52;c;ZXZpbA==\x07\r\x9b"
    failure = type(failure)(kind="crash", summary="raised RuntimeError: " + hostile, got=hostile,
                            details=["the program wrote to stderr:", "    " + hostile])
    assert "\x1b" not in failure.summary + failure.got + "".join(failure.details)
    assert "\\x1b[2J\\x1b[1A" in failure.summary and "\\x07\\x0d\\x9b" in failure.got
    again = type(failure)(**{**failure.__dict__})
    assert again == failure  # escaping twice changes nothing: JSON round trips stay equal
    run.failure = failure
    assert GradeResult.from_json(result.to_json()) == result
    text = render(result)
    assert "\\x1b]52;c;" in text
    assert "\x1b" not in text and "\x07" not in text
