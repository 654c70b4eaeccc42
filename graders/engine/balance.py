"""How a grading's runs are split between its pytest processes (grading.PROCESSES).

The split is fixed before any run starts and depends only on the checks
collected, never on timing: each process has its own TimeBudget, so a
split that changed from grade to grade could change the verdict of a
submission that hangs.

Each process should finish at about the same time, since the grade waits for
the slower one. So the units of work are weighed by an estimate of how many
runs of the student's program they make, and each unit, heaviest first,
goes to the process with the least weight so far (longest processing time
first). A unit is one item, except the checks that judge one shared run
(`@check(same_run=...)`): under each start method they are one unit, so that
run is made once.
"""
from __future__ import annotations

from hypothesis import settings


def part(items: list, index: int, count: int) -> list:
    """The items process `index` of `count` runs, in collection order."""
    loads = [0] * count
    mine = set()
    units = split(items)
    for position in sorted(range(len(units)), key=lambda n: -weight(units[n])):  # stable: ties by position
        target = loads.index(min(loads))
        loads[target] += weight(units[position])
        if target == index:
            mine.update(id(item) for item in units[position])
    return [item for item in items if id(item) in mine]


def split(items: list) -> list[list]:
    """The units that go to a process whole, in collection order."""
    units, shared = [], {}
    for item in items:
        key = getattr(_function(item), "kit_same_run", None)
        if key is None:
            units.append([item])
            continue
        method = item.callspec.params.get("start_method") if hasattr(item, "callspec") else None
        if (key, method) not in shared:
            shared[(key, method)] = []
            units.append(shared[(key, method)])
        shared[(key, method)].append(item)
    return units


def weight(unit: list) -> int:
    """A shared run is made once: its unit weighs what its heaviest check does."""
    return max(cost(item) for item in unit)


def cost(item) -> int:
    """About how many runs of the student's program an item makes.

    A check's own `@check(cost=...)` first; then, for a hypothesis test, its
    explicit examples and its max_examples (the kit's profile, or the test's
    own @settings); else one.
    """
    function = _function(item)
    declared = getattr(function, "kit_cost", None)
    if declared:
        return declared
    if not getattr(function, "is_hypothesis_test", False):
        return 1
    chosen = getattr(function, "_hypothesis_internal_use_settings", None) or settings()
    return chosen.max_examples + len(getattr(function, "hypothesis_explicit_examples", ()))


def _function(item):
    return getattr(item, "function", None)
