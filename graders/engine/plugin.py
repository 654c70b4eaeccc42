"""The pytest plugin that turns grader tests into graded checks.

Hooks appear in pytest's lifecycle order: options, configuration, test
generation, fixtures, reports, and the end of the session, which writes the
results file. Precedence of settings: a command-line option wins over the
manifest, which wins over the defaults in this module.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from graders.engine import limits, manifest, shards
from graders.engine.checks import (MAX_TIMEOUTS, QUICK_MAX_TIMEOUTS, CheckFailure, Student, TimeBudget,
                                   budget_spent)
from graders.engine.results import CheckResult, ExerciseResult, Failure, GradeResult, Run

START_METHODS = ("fork", "spawn", "forkserver")
PRIMARY = "forkserver"  # Python 3.14's default on Linux: checks that need one method use it

HELP_STAGE = "folder with the staged submission (one sub-folder per exercise) and the grader library"
HELP_RESULTS = "write the results, as JSON, to this file"
HELP_METHODS = "comma-separated start methods to run every check under (default: fork,spawn,forkserver)"
HELP_QUICK = "quick mode: fewer generated examples (pair it with one start method)"
HELP_CHECKS = "comma-separated check names to run (default: all)"
HELP_PROGRESS = "append one JSON line per finished run to this file, for a progress display"
HELP_SHARD = "run only share I of N of the checks' runs (I/N, from 0), as engine/shards.py shares them"
HELP_GO = ("wait, once the checks are collected, for a JSON line on this file descriptor before running any: "
           '{"first": [CHECK, ...]} (as --kit-first), or nothing to end without running one (a warm grader\'s)')
HELP_FIRST = ("comma-separated check names to run first in this share (the ones that failed last); "
              "no verdict changes: a hang's budget still counts in the usual order")

settings.register_profile("kit", max_examples=8, derandomize=True, database=None, deadline=None,
                          suppress_health_check=list(HealthCheck), print_blob=False)
settings.register_profile("kit-quick", parent=settings.get_profile("kit"), max_examples=3)


def pytest_addoption(parser):
    group = parser.getgroup("kit", "multiprocessing exercise kit")
    group.addoption("--kit-stage", help=HELP_STAGE)
    group.addoption("--kit-results", help=HELP_RESULTS)
    group.addoption("--kit-methods", default=",".join(START_METHODS), help=HELP_METHODS)
    group.addoption("--kit-quick", action="store_true", help=HELP_QUICK)
    group.addoption("--kit-checks", default="", help=HELP_CHECKS)
    group.addoption("--kit-progress", help=HELP_PROGRESS)
    group.addoption("--kit-shard", default="0/1", help=HELP_SHARD)
    group.addoption("--kit-first", default="", help=HELP_FIRST)
    group.addoption("--kit-go", type=int, help=HELP_GO)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    share = limits.share_tempdir(limits.current())  # graders' temporary files, for the sandbox user
    if share and not config.option.basetemp:
        config.option.basetemp = str(Path(share) / "pytest")
    settings.load_profile("kit-quick" if config.getoption("--kit-quick") else "kit")
    config.kit_exercises = manifest.load()
    config.kit_methods = [m for m in config.getoption("--kit-methods").split(",") if m]
    config.kit_runs = {}
    config.kit_budgets = {}
    config.kit_started = time.monotonic()


def pytest_unconfigure(config):
    limits.remove_share()


def pytest_generate_tests(metafunc):
    if "start_method" not in metafunc.fixturenames:
        return
    methods = metafunc.config.kit_methods
    pinned = getattr(metafunc.function, "kit_start_method", None)
    if pinned:
        methods = [pinned]
    elif not getattr(metafunc.function, "kit_every_start_method", True):
        methods = [PRIMARY if PRIMARY in methods else methods[0]]
    metafunc.parametrize("start_method", methods)


def pytest_collection_modifyitems(config, items):
    wanted = {c for c in config.getoption("--kit-checks").split(",") if c}
    keep = [i for i in items if check_name(i) in wanted] if wanted else list(items)
    # A fixed share: the same runs land in the same process on every grading,
    # so each process's TimeBudget, and so the verdict, never depends on timing.
    index, count = (int(n) for n in config.getoption("--kit-shard").split("/"))
    keep = shards.share(keep, index, count)
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    # Each item's place in the usual order: what the time budget counts by, whatever order runs them.
    config.kit_positions = {item.nodeid: n for n, item in enumerate(keep)}
    first = {c for c in config.getoption("--kit-first").split(",") if c}
    if config.getoption("--kit-go") is not None:
        first = set(_wait_for_go(config))
    config.kit_early = {i.nodeid: None for i in keep if check_name(i) in first}  # where each run's result went
    items[:] = [i for i in keep if check_name(i) in first] + [i for i in keep if check_name(i) not in first]


def pytest_collection_finish(session):
    session.config.kit_total = len(session.items)
    path = session.config.getoption("--kit-progress")
    if path:  # the total first: the grader adds up the shares before it shows any progress
        runs: dict[str, int] = {}
        for item in session.items:  # each check's runs in this share: its verdict is known after the last
            key = f"{item.path.parent.name}/{check_name(item)}"
            runs[key] = runs.get(key, 0) + 1
        with open(path, "a") as f:
            f.write(json.dumps({"total": len(session.items), "checks": runs}) + "\n")


def _wait_for_go(config) -> list[str]:
    """Wait for the grading this process was started ahead of (engine/warm.py); its checks to run first."""
    line = b""
    with open(config.getoption("--kit-go"), "rb", buffering=0, closefd=True) as go:
        while not line.endswith(b"\n"):
            chunk = go.read(4096)
            if not chunk:
                break
            line += chunk
    if not line.strip():
        pytest.exit("no grading came", returncode=0)
    config.kit_started = time.monotonic()  # the grading's time, not the wait for it
    return [str(c) for c in json.loads(line).get("first", [])]


@pytest.fixture
def exercise(request) -> manifest.Exercise:
    return request.config.kit_exercises[request.node.path.parent.name]


PRINTED_CAP = 2_000  # characters of the program's stdout kept per run: results files show at most 500


class PrintingStudent(Student):
    """A Student that keeps what the program printed, for the results files' `output`."""

    printed = ""

    def run(self, probe, **params):
        outcome = super().run(probe, **params)
        if len(self.printed) < PRINTED_CAP:
            self.printed = (self.printed + outcome.stdout)[:PRINTED_CAP]
        return outcome


@pytest.fixture
def student(request, exercise, start_method) -> Student:
    stage = Path(request.config.getoption("--kit-stage"))
    limit = QUICK_MAX_TIMEOUTS if request.config.getoption("--kit-quick") else MAX_TIMEOUTS
    budget = request.config.kit_budgets.setdefault(exercise.name, TimeBudget(limit=limit))
    return PrintingStudent(exercise=exercise, submission=str(stage / exercise.name), lib=str(stage / "lib"),
                           start_method=start_method, budget=budget, check=request.node.nodeid,
                           position=request.config.kit_positions.get(request.node.nodeid, 0))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when == "call" or (report.when == "setup" and report.failed):
        failure = None if report.passed else failure_of(call.excinfo.value if call.excinfo else None)
        method = item.callspec.params.get("start_method", "") if hasattr(item, "callspec") else ""
        key = (item.path.parent.name, check_name(item))
        runs = item.config.kit_runs.setdefault(key, (item, []))[1]
        printed = getattr(getattr(item, "funcargs", {}).get("student"), "printed", "")
        runs.append(Run(start_method=method, passed=report.passed, seconds=round(report.duration, 3),
                        failure=failure, output=printed))
        if item.nodeid in getattr(item.config, "kit_early", {}):
            item.config.kit_early[item.nodeid] = (key, len(runs) - 1)
        _progress(item, sum(len(r) for _, r in item.config.kit_runs.values()), method, report.passed)


def _progress(item, done: int, method: str, passed: bool):
    path = item.config.getoption("--kit-progress")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"done": done, "total": item.config.kit_total,
                                "exercise": item.path.parent.name, "check": check_name(item),
                                "start_method": method, "passed": passed,
                                "title": getattr(item.function, "kit_title", item.name)}) + "\n")


def pytest_sessionfinish(session):
    config = session.config
    path = config.getoption("--kit-results")
    if not path:
        return
    _unrun_early(config)
    used = {run.start_method for _, runs in config.kit_runs.values() for run in runs}
    # The methods asked for, and any a check is pinned to (rush's 100 users run under fork only).
    methods = [m for m in START_METHODS if m in config.kit_methods or m in used]
    result = GradeResult(mode="quick" if config.getoption("--kit-quick") else "full",
                         start_methods=methods,
                         seconds=round(time.monotonic() - config.kit_started, 2))
    by_exercise: dict[str, ExerciseResult] = {}
    for (name, check), (item, runs) in config.kit_runs.items():
        exercise = config.kit_exercises[name]
        if name not in by_exercise:
            by_exercise[name] = ExerciseResult(name=name, title=exercise.title)
        by_exercise[name].checks.append(CheckResult(
            name=check, title=getattr(item.function, "kit_title", check),
            weight=exercise.checks.get(check, 1), runs=runs,
            visibility="hidden" if getattr(item.function, "kit_hidden", False) else "public",
            pinned=getattr(item.function, "kit_start_method", None)))
    result.exercises = [by_exercise[n] for n in config.kit_exercises if n in by_exercise]
    Path(path).write_text(result.to_json())


def _unrun_early(config) -> None:
    """A run made first (--kit-first) that the usual order would not have started, for the hangs
    before its place, becomes the run not started it would have been."""
    for nodeid, place in getattr(config, "kit_early", {}).items():
        if place is None:
            continue
        (exercise, check), index = place
        budget = config.kit_budgets.get(exercise)
        if budget is not None and budget.spent(config.kit_positions[nodeid]):
            runs = config.kit_runs[(exercise, check)][1]
            runs[index] = Run(start_method=runs[index].start_method, passed=False, seconds=0.0,
                              failure=budget_spent(budget.limit).failure, output="")


def check_name(item) -> str:
    return item.function.__name__.removeprefix("test_")


def failure_of(error: BaseException | None) -> Failure:
    """The student-facing failure for an exception raised by a check."""
    found = _find_check_failure(error)
    if found is not None:
        failure = found.failure
        if error is not found and "Flaky" in type(error).__name__:
            failure.details.append("The same case gave different results on different runs: "
                                   "the outcome depends on timing, which is the mark of a race.")
        return failure
    kind = type(error).__name__ if error else "an unknown error"
    return Failure(kind="grader", summary=f"the grader itself failed with {kind}: this is a bug in "
                   "the kit, not in your code; please report it with the grading log")


def _find_check_failure(error):
    if isinstance(error, CheckFailure):
        return error
    for inner in getattr(error, "exceptions", ()) or ():
        found = _find_check_failure(inner)
        if found is not None:
            return found
    return None
