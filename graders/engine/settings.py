"""What one grading pytest process is asked to do: written once by grading.py
as a file, read once by the plugin into the config's stash."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

START_METHODS = ("fork", "spawn", "forkserver")
PRIMARY = "forkserver"  # Python 3.14's default on Linux: checks that need one method use it


@dataclass(frozen=True)
class Settings:
    stage: str  # the staged submission (one sub-folder per exercise) and the grader library (lib/)
    results: str  # where the results go, as JSON
    progress: str | None = None  # a JSON line per finished run is appended here, for a progress display
    methods: tuple[str, ...] = START_METHODS  # every check runs under these, unless pinned
    quick: bool = False  # fewer generated examples, and a smaller time budget
    checks: tuple[str, ...] = ()  # only these checks; () is all
    part: int = 0  # this process runs part `part` of `parts` of the runs (balance.py)
    parts: int = 1
    first: tuple[str, ...] = ()  # checks to run before the others (the ones that failed last); no verdict changes
    # A warm grader's process (warm.py): once the checks are collected, wait for a JSON line on this file
    # descriptor, {"first": [CHECK, ...]}, before running any; nothing on it ends the process unrun.
    go: int | None = None

    def write(self, path: Path) -> None:
        """Readable by the grading process only: its paths are none of the sandbox user's business."""
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path) -> Settings:
        data = json.loads(Path(path).read_text())
        for name in ("methods", "checks", "first"):
            data[name] = tuple(data[name])
        return cls(**data)
