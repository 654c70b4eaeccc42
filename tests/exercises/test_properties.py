"""One mistake fails the checks whose property it breaks, and no other: a program keeps the
points of what it gets right."""
import pytest

from graders.engine import manifest
from graders.engine.grading import grade
from graders.devtools import bank

EXERCISES = manifest.load()

# A bank variant, and the only checks it may fail.
ONLY = {
    "consumer.done_before_handle": {"join_waits_for_handle"},
    "consumer.stop_not_marked_done": {"stop_ends_consumers"},
    "consumer.puts_stop_back": {"stop_ends_consumers"},
    "consumer.goes_on_after_stop": {"stop_ends_consumers"},
    "pool.callback_completion_order": {"results_in_order_of_args", "raises_first_error", "collects_any_workload"},
}


@pytest.mark.parametrize("name", ONLY)
def test_a_mistake_fails_only_the_checks_it_breaks(name, tmp_path):
    exercise_name = name.split(".")[0]
    variant = next(v for v in bank.load(exercise_name) if v.id == name)
    exercise = EXERCISES[exercise_name]
    path = tmp_path / exercise.stub
    path.write_text(variant.source(exercise))
    result = grade([exercise], sources={exercise.name: path}, methods=["forkserver"])
    failed = {c.name for c in result.exercises[0].checks if any(not r.passed for r in c.runs)}
    assert variant.expect in failed
    assert failed <= ONLY[name], f"{variant.about}: also failed {sorted(failed - ONLY[name])}"
