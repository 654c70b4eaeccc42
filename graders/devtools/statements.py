"""The table of checks in an exercise's statement, made from its checks and the manifest.

A check's ID, title and weight are written once (the function, its `@check`
title, its weight in exercises.toml); the statement's table between the
markers below is generated from them, so it cannot drift.
`python -m graders.devtools.agreement --fix` rewrites it.
"""
from __future__ import annotations

from graders.engine import catalog
from graders.engine.manifest import Exercise

BEGIN = "<!-- checks: made from the checks and exercises.toml by `python -m graders.devtools.agreement --fix` -->"
END = "<!-- /checks -->"
HEADER = ["| the report says | ID for `--checks` | weight |", "|---|---|---|"]


def table(exercise: Exercise) -> list[str]:
    """A row per check, in the order of the grader's files: its title, when it runs, its ID and weight."""
    rows = list(HEADER)
    for info in catalog.checks_of(exercise):
        notes = []
        if info.start_method:
            notes.append(f"{info.start_method} only")
        elif not info.every_start_method:
            notes.append("forkserver only")
        if info.hidden:
            notes.append("hidden")
        note = f" *({', '.join(notes)})*" if notes else ""
        weight = exercise.checks.get(info.name, "?")
        rows.append(f"| {info.title}{note} | `{info.name}` | {weight} |")
    return rows


def with_table(text: str, exercise: Exercise) -> str | None:
    """The statement `text` with its table made anew; None when it has no markers to put one between."""
    lines = text.splitlines()
    if BEGIN not in lines or END not in lines or lines.index(END) < lines.index(BEGIN):
        return None
    start, end = lines.index(BEGIN), lines.index(END)
    return "\n".join(lines[:start + 1] + table(exercise) + lines[end:]) + "\n"
