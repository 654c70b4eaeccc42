"""Every folder, manifest entry, weight, title, hint and statement of the kit agree, and the
agreement check finds each kind of disagreement it claims to."""
import pytest

from graders.devtools import agreement
from kit_copy import copy_kit


def test_the_kit_agrees_with_itself():
    assert agreement.problems() == []


@pytest.fixture
def kit(tmp_path):
    return copy_kit(tmp_path / "kit")


def _edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_a_weight_without_a_check_and_a_check_without_a_weight(kit):
    _edit(kit / "exercises.toml", "search_is_concurrent = 1", "search_in_parallel = 1")
    problems = agreement.problems(kit)
    assert "check search_is_concurrent of graders/lock/ has no weight in [lock.checks]" in problems
    assert "[lock.checks] weighs search_in_parallel, which graders/lock/ does not have" in problems


def test_a_statement_whose_table_drifted_is_named_and_fix_rewrites_it(kit):
    _edit(kit / "exercises.toml", "buy_is_exclusive = 3", "buy_is_exclusive = 4")
    assert agreement.problems(kit) == [
        "exercises/lock/README.md's table of checks is not the one its checks and weights make: "
        "run `python -m graders.devtools.agreement --fix`"]
    assert agreement.fix(kit) == [kit / "exercises" / "lock" / "README.md"]
    assert "| only one buyer is inside buy() at a time | `buy_is_exclusive` | 4 |" in \
        (kit / "exercises" / "lock" / "README.md").read_text()
    assert agreement.problems(kit) == []


def test_a_folder_without_a_manifest_entry_and_a_missing_stub(kit):
    (kit / "solutions" / "semaphore").mkdir()
    (kit / "exercises" / "lock" / "tickets.py").unlink()
    problems = agreement.problems(kit)
    assert "solutions/semaphore/ has no entry in exercises.toml" in problems
    assert "exercises/lock/tickets.py is missing" in problems


def test_an_entry_function_that_is_not_there_and_a_bank_expecting_no_check(kit):
    _edit(kit / "solutions" / "pool" / "collect.py", "def collect(", "def gather(")
    _edit(kit / "graders" / "rush" / "bank.toml", 'expect = "fewer_users_than_phones"', 'expect = "ranking_in_order"')
    problems = agreement.problems(kit)
    assert "solutions/pool/collect.py defines no collect(), the manifest's entry" in problems
    assert any(p.startswith("graders/rush/bank.toml: variant ") and "'ranking_in_order'" in p for p in problems)
