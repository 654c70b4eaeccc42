"""The bank of variants: known mistakes, and correct programs spelled differently.

graders/NAME/bank.toml holds one exercise's variants. Each is that exercise's
reference solution with a few edits (`[[NAME.edit]]`, whose `old` must occur
exactly once, so the bank cannot drift from the solution), or a whole program
(`source`, a multi-line TOML string, for a correct one spelled very differently). It says
what the grader must do with it:

- `about`: one line, what the program does;
- `expect`: "pass", or the check that must reject it;
- `message`: a string or a list of strings that the failure's text (summary,
  expected, got, hint, details) must all contain: the words naming the mistake;
- `not_message`: strings it must not contain (the wrong diagnoses it once got);
- `methods`: the start methods it is graded under (default: all three); a
  program wrong under some only (code that works under fork) lists those.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass

from graders.engine.manifest import KIT, Exercise
from graders.engine.settings import START_METHODS

METHODS = START_METHODS
FIELDS = {"about", "expect", "message", "not_message", "methods", "edit", "source"}


@dataclass(frozen=True)
class Variant:
    exercise: str
    name: str
    about: str
    expect: str  # "pass", or the check that must fail
    message: tuple[str, ...]  # pieces of the failure's text naming the mistake: all must appear
    not_message: tuple[str, ...]  # pieces that must not appear: wrong diagnoses
    methods: tuple[str, ...]
    edits: tuple[tuple[str, str], ...]
    whole: str | None = None  # a whole program instead of edits

    @property
    def id(self) -> str:
        return f"{self.exercise}.{self.name}"

    def source(self, exercise: Exercise) -> str:
        if self.whole is not None:
            return self.whole
        text = (exercise.solution_dir / exercise.stub).read_text()
        for old, new in self.edits:
            count = text.count(old)
            if count != 1:
                raise ValueError(f"{self.id}: the text to replace occurs {count} times in the solution:\n{old}")
            text = text.replace(old, new)
        return text


def _strings(value, where: str) -> tuple[str, ...]:
    values = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(v, str) for v in values):
        raise ValueError(f"{where}: expected a string or a list of strings, got {value!r}")
    return values


def variant(exercise: str, name: str, v: dict) -> Variant:
    where = f"{exercise}.{name}"
    unknown = set(v) - FIELDS
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if "source" in v and "edit" in v:
        raise ValueError(f"{where}: give edits or a whole source, not both")
    methods = _strings(v.get("methods", METHODS), where + ".methods")
    if not methods or not set(methods) <= set(METHODS):
        raise ValueError(f"{where}: methods must be some of {', '.join(METHODS)}")
    return Variant(exercise=exercise, name=name, about=v["about"], expect=v["expect"],
                   message=_strings(v.get("message", ()), where + ".message"),
                   not_message=_strings(v.get("not_message", ()), where + ".not_message"),
                   methods=tuple(m for m in METHODS if m in methods),
                   edits=tuple((e["old"], e["new"]) for e in v.get("edit", ())), whole=v.get("source"))


def load(exercise: str) -> list[Variant]:
    path = KIT / "graders" / exercise / "bank.toml"
    if not path.exists():
        return []
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return [variant(exercise, name, v) for name, v in data.items()]
