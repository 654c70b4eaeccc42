"""The manifest, exercises.toml: every exercise's metadata in one place.

Paths are derived from an exercise's name and stub file, never written twice:
exercises/NAME/STUB is the student's file, solutions/NAME/STUB the reference,
graders/NAME/ the hidden checks.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from graders import KIT

MANIFEST = KIT / "exercises.toml"


@dataclass(frozen=True)
class Exercise:
    name: str
    title: str
    stub: str
    entry: str
    deadline: float
    checks: dict[str, int] = field(default_factory=dict)
    hints: tuple[str, ...] = ()
    root: Path = field(default=KIT, compare=False)  # the kit it belongs to: another only in the kit's own tests

    @property
    def module(self) -> str:
        return Path(self.stub).stem

    @property
    def exercise_dir(self) -> Path:
        return self.root / "exercises" / self.name

    @property
    def solution_dir(self) -> Path:
        return self.root / "solutions" / self.name

    @property
    def grader_dir(self) -> Path:
        return self.root / "graders" / self.name


def load(path: Path = MANIFEST) -> dict[str, Exercise]:
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return {
        name: Exercise(
            name=name, title=entry["title"], stub=entry["stub"], entry=entry["entry"],
            deadline=float(entry.get("deadline", 20)), checks=dict(entry.get("checks", {})),
            hints=tuple(entry.get("hints", ())), root=Path(path).resolve().parent)
        for name, entry in data.items()
    }
