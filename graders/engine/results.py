"""Results are data: the one model every report and results file is made from.

The pytest plugin fills it in the grading process and writes it as JSON; the
terminal report, and any other format, is rendered from that JSON, never from
pytest's printed output.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from graders.engine.settings import START_METHODS

NOT_RUN = "not run: "  # a Failure's summary starts so when the run was skipped, not failed by the program


@dataclass
class Failure:
    """Why one check failed under one start method, in a student's words."""

    kind: str  # "wrong", "hang", "crash", "grader" (a bug in the kit), or "missing" (no file handed in)
    summary: str
    expected: str | None = None
    got: str | None = None
    case: str | None = None
    hint: str | None = None
    details: list[str] = field(default_factory=list)

    def __post_init__(self):
        # Much of this text is the program's (an exception's message, what it printed): shown in
        # a terminal or a job summary, its control characters could rewrite the screen.
        for name in ("summary", "expected", "got", "case", "hint"):
            setattr(self, name, visible(getattr(self, name)))
        self.details = [visible(line) for line in self.details]


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text):
    """`text` with every control character but newline and tab shown as an escape (ESC as \\x1b)."""
    if not isinstance(text, str):
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


@dataclass
class Run:
    """One check under one start method."""

    start_method: str
    passed: bool
    seconds: float
    failure: Failure | None = None
    output: str = ""  # what the program printed to stdout in this run, capped (plugin.PRINTED_CAP)

    def __post_init__(self):
        self.output = visible(self.output)


@dataclass
class CheckResult:
    name: str
    title: str
    weight: int
    runs: list[Run] = field(default_factory=list)
    visibility: str = "public"  # or "hidden": left out of the student handout
    pinned: str | None = None  # the start method the check always runs under (@check(start_method=...))

    @property
    def passed(self) -> bool:
        return bool(self.runs) and all(r.passed for r in self.runs)


@dataclass
class ExerciseResult:
    name: str
    title: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def score(self) -> int:
        """Out of 100: the weights of the checks passed under every start method."""
        total = sum(c.weight for c in self.checks)
        won = sum(c.weight for c in self.checks if c.passed)
        return round(100 * won / total) if total else 0

    @property
    def checks_passed(self) -> int:
        return sum(c.passed for c in self.checks)


@dataclass
class GradeResult:
    exercises: list[ExerciseResult] = field(default_factory=list)
    mode: str = "full"
    start_methods: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.exercises) and all(e.passed for e in self.exercises)

    def to_json(self) -> str:
        data = asdict(self)
        for exercise, source in zip(data["exercises"], self.exercises):
            exercise.update(score=source.score, checks_passed=source.checks_passed, passed=source.passed)
        data["passed"] = self.passed
        return json.dumps(data, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "GradeResult":
        data = json.loads(text)
        exercises = [
            ExerciseResult(
                name=e["name"], title=e["title"],
                checks=[
                    CheckResult(
                        name=c["name"], title=c["title"], weight=c["weight"],
                        visibility=c.get("visibility", "public"), pinned=c.get("pinned"),
                        runs=[Run(start_method=r["start_method"], passed=r["passed"], seconds=r["seconds"],
                                  failure=Failure(**r["failure"]) if r["failure"] else None,
                                  output=r.get("output", ""))
                              for r in c["runs"]])
                    for c in e["checks"]])
            for e in data["exercises"]]
        return cls(exercises=exercises, mode=data["mode"], start_methods=data["start_methods"],
                   seconds=data["seconds"])


_METHOD_ORDER = list(START_METHODS)


def combine(parts: list[GradeResult], order: dict[str, list[str]]) -> GradeResult:
    """One result from the results of the grading processes that shared a grading.

    `order` lists each exercise's checks (the manifest's order); a check's runs
    may come from several parts and are put back in start-method order.
    """
    first = parts[0]
    every_method = list(dict.fromkeys(m for p in parts for m in p.start_methods))
    methods = {m: i for i, m in enumerate(every_method)}
    found: dict[str, ExerciseResult] = {}
    checks: dict[tuple[str, str], CheckResult] = {}
    for part in parts:
        for exercise in part.exercises:
            whole = found.setdefault(exercise.name, ExerciseResult(name=exercise.name, title=exercise.title))
            for check in exercise.checks:
                key = (exercise.name, check.name)
                if key in checks:
                    checks[key].runs.extend(check.runs)
                else:
                    checks[key] = check
                    whole.checks.append(check)
    for exercise in found.values():
        rank = {name: i for i, name in enumerate(order.get(exercise.name, []))}
        exercise.checks.sort(key=lambda c: rank.get(c.name, len(rank)))
        for check in exercise.checks:
            check.runs.sort(key=lambda r: methods.get(r.start_method, len(methods)))
    return GradeResult(exercises=[found[name] for name in order if name in found]
                       + [e for name, e in found.items() if name not in order],
                       mode=first.mode, start_methods=sorted(every_method, key=_METHOD_ORDER.index),
                       seconds=max(p.seconds for p in parts))
