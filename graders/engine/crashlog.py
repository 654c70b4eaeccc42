"""The crashes a run's processes recorded (child/crashes.py), read back as `Crash`es.

The files are the student's claim: they are read bounded and checked field by
field, and a crash can only make a verdict worse (checks.Student.finished
fails the run on it), never better.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field

from graders.child.crashes import FILE_PREFIX, MAX_FRAMES, MAX_MESSAGE
from graders.engine import stacks

MAX_FILES = 32
MAX_FILE_CHARS = 64_000

@dataclass
class Crash:
    """One exception that ended a process or thread of the program."""

    kind: str  # "process" or "thread"
    name: str  # its multiprocessing or threading name
    pid: int
    type: str
    message: str
    lines: list[str] = field(default_factory=list)  # the student's frames, outermost first
    own: bool = True  # raised by the student's own line, not inside a call it made (a library, handle())

    @property
    def site(self) -> str | None:
        """The student's innermost line, "tickets.py:25 in read_count", without its source."""
        return self.lines[-1].split(": ", 1)[0] if self.lines else None

    @property
    def error(self) -> str:
        message = self.message if len(self.message) <= 300 else self.message[:300] + "..."
        return f"{self.type}: {message}" if message else self.type


def read(folder: str, submission: str, result_path: str | None = None) -> list[Crash]:
    """The crashes the run's processes recorded, in the order they happened.

    With `result_path`, records written after the probe's result are left out: they come from
    processes that outlived the probe, which the runner leaves without waiting for (child/main.py).
    """
    try:
        done = os.stat(result_path).st_mtime_ns if result_path else None
    except OSError:
        done = None
    found = []
    try:
        names = sorted(n for n in os.listdir(folder) if n.startswith(FILE_PREFIX) and n.endswith(".json"))
    except OSError:
        return []
    for name in names[:MAX_FILES]:
        path = os.path.join(folder, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode) or (done is not None and info.st_mtime_ns > done):
                    continue
                text = os.read(fd, MAX_FILE_CHARS).decode(errors="replace")
            finally:
                os.close(fd)
            found.append((info.st_mtime_ns, name, _checked(json.loads(text), submission)))
        except Exception:  # OSError, or a forged file (ValueError, RecursionError, ...): not a crash
            continue
    return [crash for _, _, crash in sorted(found, key=lambda x: (x[0], x[1]))]


def _checked(record, submission: str) -> Crash:
    """A Crash from a record, every field of its type; ValueError if it cannot be."""
    if not isinstance(record, dict) or record.get("kind") not in ("process", "thread"):
        raise ValueError("not a crash record")
    texts = [record["name"], record["type"], record["message"]]
    if not all(isinstance(t, str) for t in texts) or not isinstance(record["pid"], int):
        raise ValueError("not a crash record")
    lines, own = [], False
    for path, line, func in record["frames"][-MAX_FRAMES:]:
        if not (isinstance(path, str) and isinstance(line, int) and isinstance(func, str)):
            raise ValueError("not a frame")
        own = stacks.inside(path, submission)
        if own:
            lines.append(stacks.describe_frame(path, line, func[:100]))
    return Crash(kind=record["kind"], name=record["name"][:100], pid=record["pid"], type=record["type"][:100],
                 message=record["message"][:MAX_MESSAGE], lines=lines, own=own)
