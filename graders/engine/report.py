"""The terminal report, rendered from the results model.

A failed check shows its plain name, then under which start methods it failed,
what was expected and what happened, the smallest failing case, a hint, and
the student's own lines. Colour only where the terminal takes it.
"""
from __future__ import annotations

import os
import sys

from graders.engine.results import CheckResult, ExerciseResult, GradeResult

_COLOURS = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}


def use_colour(stream=sys.stdout) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def use_unicode(stream=sys.stdout) -> bool:
    return (getattr(stream, "encoding", None) or "").lower().replace("-", "") == "utf8"


class Paint:
    def __init__(self, colour: bool, unicode: bool):
        self.colour = colour
        self.ok, self.no = ("✓", "✗") if unicode else ("ok", "FAIL")

    def __call__(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        codes = ";".join(_COLOURS[s] for s in styles)
        return f"\033[{codes}m{text}\033[0m"


def render(result: GradeResult, colour: bool = False, unicode: bool = True) -> str:
    paint = Paint(colour, unicode)
    lines = []
    for exercise in result.exercises:
        lines += _exercise(exercise, paint)
        lines.append("")
    for exercise in result.exercises:
        line = score_line(exercise)
        lines.append(paint(line, "green" if exercise.passed else "red", "bold"))
    methods = ", ".join(result.start_methods)
    lines.append(paint(f"({result.mode} mode, start methods: {methods}; {result.seconds:.1f} s)", "dim"))
    return "\n".join(lines)


def score_line(exercise: ExerciseResult) -> str:
    return (f"{exercise.name}: {exercise.checks_passed}/{len(exercise.checks)} checks passed, "
            f"score {exercise.score}/100")


def failure_text(check: CheckResult) -> str:
    """What a failed check says, in plain text: the lines the report shows under it."""
    return "\n".join(_failure(check, Paint(False, True)))


def _exercise(exercise: ExerciseResult, paint: Paint) -> list[str]:
    lines = [paint(f"{exercise.name} - {exercise.title}", "bold")]
    for check in exercise.checks:
        if check.passed:
            lines.append(f"  {paint(paint.ok, 'green')} {check.title}")
        else:
            lines.append(f"  {paint(paint.no, 'red')} {paint(check.title, 'bold')}")
            lines += ["      " + line for line in _failure(check, paint)]
    return lines


def _failure(check: CheckResult, paint: Paint) -> list[str]:
    """Failures grouped by what went wrong, each with the start methods it happened under."""
    groups: dict[tuple, list] = {}
    for run in check.runs:
        if not run.passed:
            f = run.failure
            groups.setdefault((f.kind, f.summary, f.expected, f.got, f.case), []).append(run)
    lines = []
    for runs in groups.values():
        f = runs[0].failure  # details (pids, stacks) differ from run to run; one example is enough
        methods = [r.start_method for r in runs if r.start_method]
        where = f"under {_join(methods)}: " if methods else ""
        lines.append(paint(where + f.summary, "red"))
        if f.expected is not None:
            lines.append(f"expected: {f.expected}")
        if f.got is not None:
            lines.append(f"got:      {f.got}")
        if f.case is not None:
            lines.append(f"failing case: {f.case}")
        lines += f.details
        if f.hint:
            lines.append(paint(f"hint: {f.hint}", "yellow"))
    passed = [r.start_method for r in check.runs if r.passed]
    if passed == ["fork"]:
        lines.append(paint("This works under fork but not under spawn or forkserver: something is shared "
                           "only because fork copies the parent, most often a Lock made at module level. "
                           "Python 3.14 uses forkserver by default on Linux.", "yellow"))
    return lines


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
