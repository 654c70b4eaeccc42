"""Results are data: JSON in, JSON out, and the report is rendered from it."""
from pathlib import Path

from graders.engine.report import render
from graders.engine.results import GradeResult

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
