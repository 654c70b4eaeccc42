"""How a grading's runs are shared between its pytest processes: a fixed share, weighed by the
runs each check makes, and the checks that judge one shared run kept together per start method."""
from types import SimpleNamespace

from hypothesis import example, given, settings, strategies as st

from graders.engine import balance
from graders.engine.checks import check


def item(name, method="forkserver", same_run=None, cost=None, function=None):
    @check(name, same_run=same_run, cost=cost)
    def plain():
        pass
    return SimpleNamespace(name=f"{name}[{method}]", function=function or plain,
                           callspec=SimpleNamespace(params={"start_method": method}))


def names(items):
    return [i.name for i in items]


def test_each_check_is_a_unit_of_its_own_without_shares():
    items = [item("a", "fork"), item("a", "spawn"), item("b", "fork")]
    assert [names(unit) for unit in balance.split(items)] == [["a[fork]"], ["a[spawn]"], ["b[fork]"]]


def test_checks_sharing_a_run_are_one_unit_per_start_method_where_the_first_was():
    items = [item("a", "fork"), item("x", "fork", "rush"), item("y", "fork", "rush"), item("x", "spawn", "rush"),
             item("b", "fork"), item("z", "fork", "rush"), item("y", "spawn", "rush")]
    assert [names(unit) for unit in balance.split(items)] == [
        ["a[fork]"], ["x[fork]", "y[fork]", "z[fork]"], ["x[spawn]", "y[spawn]"], ["b[fork]"]]


def test_a_shared_run_weighs_once():
    assert balance.weight([item("x", same_run="rush"), item("y", same_run="rush", cost=3), item("z", same_run="rush")]) == 3


def test_a_hypothesis_check_weighs_its_examples():
    @settings(max_examples=4)
    @given(st.integers())
    @example(7)
    def generated(n):
        pass
    assert balance.cost(item("g", function=generated)) == 5
    assert balance.cost(item("p")) == 1 and balance.cost(item("c", cost=3)) == 3


def test_every_item_goes_to_one_process_and_the_heavy_ones_are_spread():
    items = [item("heavy1", cost=4), item("a"), item("b"), item("heavy2", cost=4), item("c"), item("d"),
             item("x", same_run="s"), item("y", same_run="s")]
    parts = [balance.part(items, k, 2) for k in range(2)]
    assert sorted(names(parts[0] + parts[1])) == sorted(names(items))
    for part in parts:
        assert names(part) == [i.name for i in items if i in part]  # collection order kept
    assert ["heavy1" in " ".join(names(p)) for p in parts] == [True, False]
    assert ["heavy2" in " ".join(names(p)) for p in parts] == [False, True]
    loads = [sum(balance.weight(u) for u in balance.split(p)) for p in parts]
    assert sorted(loads) == [6, 7]  # 13 in all, as even as whole units allow
    assert ("x[forkserver]" in names(parts[0])) == ("y[forkserver]" in names(parts[0]))


def test_the_share_is_the_same_every_time():
    items = [item(str(n), cost=1 + n % 3) for n in range(12)]
    assert [names(balance.part(items, 0, 2)) for _ in range(3)] == [names(balance.part(items, 0, 2))] * 3
