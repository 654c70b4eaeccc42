"""What the kit remembers between commands, in .kit/ (never committed):
the last grade of each exercise, and how many hints each has shown.
Files are written whole (engine/files.py), so an interrupted command never
leaves half a file behind.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from graders.engine.files import write_whole
from graders.engine.manifest import KIT
from graders.engine.report import score_line
from graders.engine.results import ExerciseResult

STATE = Path(os.environ.get("KIT_STATE_DIR") or KIT / ".kit")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def save_grade(exercise: ExerciseResult, source: Path, mode: str) -> None:
    """Remember a grade for `status`; a quick grade of the file a full grade judged adds nothing."""
    earlier = last_grade(exercise.name)
    if (mode == "quick" and earlier and earlier.get("mode") == "full"
            and earlier.get("source_sha256") == digest(source)):
        return
    record = {"name": exercise.name, "passed": exercise.passed, "score": exercise.score,
              "checks_passed": exercise.checks_passed, "checks": len(exercise.checks),
              "summary": score_line(exercise), "mode": mode, "source_sha256": digest(source),
              "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_whole(STATE / "grades" / f"{exercise.name}.json", json.dumps(record, indent=2))


def last_grade(name: str) -> dict | None:
    try:
        return json.loads((STATE / "grades" / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def hints_shown() -> dict[str, int]:
    try:
        return json.loads((STATE / "hints.json").read_text())
    except (OSError, ValueError):
        return {}


def count_hint(name: str, shown: int) -> None:
    counts = hints_shown() | {name: shown}
    write_whole(STATE / "hints.json", json.dumps(counts, indent=2))
