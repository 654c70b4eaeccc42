"""The pytest plugin that turns grader tests into graded checks.

Hooks appear in pytest's lifecycle order: options, configuration, test
generation, fixtures, reports, and the end of the session, which writes the
results file. The one option, `--kit-settings FILE`, names the settings the
grading wrote (settings.py); they are read once, at configuration, and kept
with this process's record of its runs in the config's stash.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from graders.sandbox import folders, users
from graders.engine import balance, manifest, run
from graders.engine.checks import MAX_TIMEOUTS, QUICK_MAX_TIMEOUTS, CheckFailure, Student, TimeBudget, budget_spent
from graders.engine.results import CheckResult, ExerciseResult, Failure, GradeResult, Run
from graders.engine.settings import PRIMARY, START_METHODS, Settings

HELP_SETTINGS = "the grading's settings, as engine/settings.py writes them"


@dataclass
class Grading:
    """This process's settings and what it recorded, kept in the config's stash."""

    settings: Settings
    exercises: dict[str, manifest.Exercise]
    started: float
    runs: dict[tuple[str, str], tuple] = field(default_factory=dict)  # (exercise, check): (item, [Run])
    budgets: dict[str, TimeBudget] = field(default_factory=dict)  # per exercise
    total: int = 0  # runs collected
    # Each item's place in the usual order: what the time budget counts by, whatever order runs them.
    positions: dict[str, int] = field(default_factory=dict)
    early: dict[str, tuple | None] = field(default_factory=dict)  # runs made first: where each one's result went


GRADING = pytest.StashKey[Grading]()

settings.register_profile("kit", max_examples=8, derandomize=True, database=None, deadline=None,
                          suppress_health_check=list(HealthCheck), print_blob=False)
settings.register_profile("kit-quick", parent=settings.get_profile("kit"), max_examples=3)


def pytest_addoption(parser):
    parser.getgroup("kit", "multiprocessing exercise kit").addoption("--kit-settings", help=HELP_SETTINGS)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    path = config.getoption("--kit-settings")
    if path is None:
        raise pytest.UsageError("the graders run through `python -m graders grade`, which passes --kit-settings")
    chosen = Settings.read(path)
    scratch = folders.checks_tempdir(users.current())  # graders' temporary files, for the sandbox user
    if scratch and not config.option.basetemp:
        config.option.basetemp = str(Path(scratch) / "pytest")
    settings.load_profile("kit-quick" if chosen.quick else "kit")
    config.stash[GRADING] = Grading(settings=chosen, exercises=manifest.load(), started=time.monotonic())
    if not config.option.collectonly:  # the zygote loads while pytest collects (or waits for a grading)
        run.warm_up(str(Path(chosen.stage) / "lib"))


def pytest_unconfigure(config):
    folders.remove_checks_tempdir()


def pytest_generate_tests(metafunc):
    if "start_method" not in metafunc.fixturenames:
        return
    methods = list(metafunc.config.stash[GRADING].settings.methods)
    pinned = getattr(metafunc.function, "kit_start_method", None)
    if pinned:
        methods = [pinned]
    elif not getattr(metafunc.function, "kit_every_start_method", True):
        methods = [PRIMARY if PRIMARY in methods else methods[0]]
    metafunc.parametrize("start_method", methods)


def pytest_collection_modifyitems(config, items):
    chosen = config.stash[GRADING].settings
    keep = [i for i in items if check_name(i) in chosen.checks] if chosen.checks else list(items)
    # A fixed part: the same runs land in the same process on every grading,
    # so each process's TimeBudget, and so the verdict, never depends on timing.
    keep = balance.part(keep, chosen.part, chosen.parts)
    # Public checks first: a hang of a hidden check then never costs a public one its run
    # (TimeBudget), which would take its points and, before the due date, hint at the hang.
    keep.sort(key=lambda item: bool(getattr(getattr(item, "function", None), "kit_hidden", False)))
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    grading = config.stash[GRADING]
    grading.positions = {item.nodeid: n for n, item in enumerate(keep)}
    first = set(_wait_for_go(grading) if chosen.go is not None else chosen.first)
    grading.early = {i.nodeid: None for i in keep if check_name(i) in first}
    items[:] = [i for i in keep if check_name(i) in first] + [i for i in keep if check_name(i) not in first]


def pytest_collection_finish(session):
    grading = session.config.stash[GRADING]
    grading.total = len(session.items)
    path = grading.settings.progress
    if path:  # the total first: the grader adds up the processes' totals before it shows any progress
        runs: dict[str, int] = {}
        for item in session.items:  # each check's runs in this process: its verdict is known after the last
            key = f"{item.path.parent.name}/{check_name(item)}"
            runs[key] = runs.get(key, 0) + 1
        with open(path, "a") as f:
            f.write(json.dumps({"total": len(session.items), "checks": runs}) + "\n")


def _wait_for_go(grading: Grading) -> list[str]:
    """Wait for the grading this process was started ahead of (engine/warm.py); its checks to run first."""
    line = b""
    with open(grading.settings.go, "rb", buffering=0, closefd=True) as go:
        while not line.endswith(b"\n"):
            chunk = go.read(4096)
            if not chunk:
                break
            line += chunk
    if not line.strip():
        pytest.exit("no grading came", returncode=0)
    grading.started = time.monotonic()  # the grading's time, not the wait for it
    return [str(c) for c in json.loads(line).get("first", [])]


@pytest.fixture
def exercise(request) -> manifest.Exercise:
    return request.config.stash[GRADING].exercises[request.node.path.parent.name]


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
    grading = request.config.stash[GRADING]
    stage = Path(grading.settings.stage)
    limit = QUICK_MAX_TIMEOUTS if grading.settings.quick else MAX_TIMEOUTS
    budget = grading.budgets.setdefault(exercise.name, TimeBudget(limit=limit))
    return PrintingStudent(exercise=exercise, submission=str(stage / exercise.name), lib=str(stage / "lib"),
                           start_method=start_method, budget=budget, check=request.node.nodeid,
                           position=grading.positions.get(request.node.nodeid, 0))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when == "call" or (report.when == "setup" and report.failed):
        failure = None if report.passed else failure_of(call.excinfo.value if call.excinfo else None)
        method = item.callspec.params.get("start_method", "") if hasattr(item, "callspec") else ""
        key = (item.path.parent.name, check_name(item))
        grading = item.config.stash[GRADING]
        runs = grading.runs.setdefault(key, (item, []))[1]
        printed = getattr(getattr(item, "funcargs", {}).get("student"), "printed", "")
        runs.append(Run(start_method=method, passed=report.passed, seconds=round(report.duration, 3),
                        failure=failure, output=printed))
        if item.nodeid in grading.early:
            grading.early[item.nodeid] = (key, len(runs) - 1)
        _progress(item, grading, sum(len(r) for _, r in grading.runs.values()), method, report.passed)


def _progress(item, grading: Grading, done: int, method: str, passed: bool):
    path = grading.settings.progress
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"done": done, "total": grading.total,
                                "exercise": item.path.parent.name, "check": check_name(item),
                                "start_method": method, "passed": passed,
                                "title": getattr(item.function, "kit_title", item.name)}) + "\n")


def pytest_sessionfinish(session):
    grading = session.config.stash.get(GRADING, None)
    if grading is None:
        return
    _unrun_early(grading)
    used = {run.start_method for _, runs in grading.runs.values() for run in runs}
    # The methods asked for, and any a check is pinned to (rush's 100 users run under fork only).
    methods = [m for m in START_METHODS if m in grading.settings.methods or m in used]
    result = GradeResult(mode="quick" if grading.settings.quick else "full",
                         start_methods=methods,
                         seconds=round(time.monotonic() - grading.started, 2))
    by_exercise: dict[str, ExerciseResult] = {}
    for (name, check), (item, runs) in grading.runs.items():
        exercise = grading.exercises[name]
        if name not in by_exercise:
            by_exercise[name] = ExerciseResult(name=name, title=exercise.title)
        by_exercise[name].checks.append(CheckResult(
            name=check, title=getattr(item.function, "kit_title", check),
            weight=exercise.checks.get(check, 1), runs=runs,
            visibility="hidden" if getattr(item.function, "kit_hidden", False) else "public",
            pinned=getattr(item.function, "kit_start_method", None)))
    result.exercises = [by_exercise[n] for n in grading.exercises if n in by_exercise]
    Path(grading.settings.results).write_text(result.to_json())


def _unrun_early(grading: Grading) -> None:
    """A run made first (Settings.first) that the usual order would not have started, for the hangs
    before its place, becomes the run not started it would have been."""
    for nodeid, place in grading.early.items():
        if place is None:
            continue
        (exercise, check), index = place
        budget = grading.budgets.get(exercise)
        if budget is not None and budget.spent(grading.positions[nodeid]):
            runs = grading.runs[(exercise, check)][1]
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
