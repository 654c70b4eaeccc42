"""The bank of variants: known mistakes, and correct programs spelled differently.

tests/bank/NAME.toml holds one exercise's variants. Each variant is that
exercise's reference solution with a few edits (`old` must occur exactly once,
so the bank cannot drift from the solution), and says what the grader must do
with it: `expect = "pass"`, or the name of the check that must reject it and a
piece of the message that names the mistake.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from graders.engine.manifest import Exercise

BANK = Path(__file__).parent / "bank"


@dataclass(frozen=True)
class Variant:
    exercise: str
    name: str
    about: str
    expect: str  # "pass", or the check that must fail
    message: tuple[str, ...]  # pieces of the failure's text that name the mistake: all must appear
    not_message: tuple[str, ...]  # pieces of wrong diagnoses: none may appear
    methods: tuple[str, ...]
    edits: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        return f"{self.exercise}.{self.name}"

    def source(self, exercise: Exercise) -> str:
        text = (exercise.solution_dir / exercise.stub).read_text()
        for old, new in self.edits:
            count = text.count(old)
            if count != 1:
                raise ValueError(f"{self.id}: the text to replace occurs {count} times in the solution:\n{old}")
            text = text.replace(old, new)
        return text


def load(exercise: str) -> list[Variant]:
    path = BANK / f"{exercise}.toml"
    if not path.exists():
        return []
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return [
        Variant(exercise=exercise, name=name, about=v["about"], expect=v["expect"],
                message=_pieces(v.get("message", "")), not_message=tuple(v.get("not_message", ())), methods=tuple(v.get("methods", ("forkserver",))),
                edits=tuple((e["old"], e["new"]) for e in v.get("edit", ())))
        for name, v in data.items()
    ]


def _pieces(message) -> tuple[str, ...]:
    return (message,) if isinstance(message, str) else tuple(message)
