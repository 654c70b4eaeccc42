"""Exceptions that end a process or thread of the student's program.

A process that dies of an exception prints a traceback to its stderr and
exits with code 1; a thread prints one and ends. Neither reaches the probe, so
a check would only see what followed (a missing pause, a wrong count, a
hang). Child side: `install()` (from boot/sitecustomize.py, in every process
of a run) records each such exception in a file of its own in the run's
stacks folder. Parent side: `read()` brings them back as `Crash`es.

The files are the student's claim: they are read bounded and checked field by
field, and a crash can only make a verdict worse (checks.Student.finished
fails the run on it), never better. An exception the student's code catches
never gets here. Pool and executor tasks are caught by multiprocessing itself
and raised again at `.get()` or `.result()`, in the code that waits for them.
"""
from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import dataclass, field

FILE_PREFIX = "crash-"
MAX_FILES = 32
MAX_FILE_CHARS = 64_000
MAX_FRAMES = 40
MAX_MESSAGE = 2000

_folder = None


# ---- child side: loaded in every process of a run, so it imports nothing heavy ----

def install(folder: str) -> None:
    """Record the exceptions that end a thread (threading.excepthook) or a multiprocessing
    Process (its run(), inside Process._bootstrap, which would only print it) into `folder`."""
    global _folder
    _folder = folder
    previous = threading.excepthook

    def excepthook(args):
        if args.exc_value is not None:
            _record(args.exc_value, "thread", args.thread.name if args.thread else "a thread")
        previous(args)

    threading.excepthook = excepthook
    from multiprocessing import process
    bootstrap = process.BaseProcess._bootstrap

    def _bootstrap(self, *args, **kwargs):
        run = self.run

        def recorded_run():
            try:
                return run()
            except SystemExit:  # sys.exit(): an exit code, not a crash
                raise
            except BaseException as error:
                _record(error, "process", self.name)
                raise
        self.run = recorded_run
        return bootstrap(self, *args, **kwargs)

    process.BaseProcess._bootstrap = _bootstrap


def _record(error: BaseException, kind: str, name: str) -> None:
    try:
        import traceback
        frames = [[f.filename, f.lineno, f.name] for f in traceback.extract_tb(error.__traceback__)][-MAX_FRAMES:]
        record = {"kind": kind, "name": str(name)[:100], "pid": os.getpid(), "type": type(error).__name__,
                  "message": str(error)[:MAX_MESSAGE], "frames": frames}
        path = os.path.join(_folder, f"{FILE_PREFIX}{os.getpid()}-{threading.get_native_id()}.json")
        with open(path + ".part", "w") as f:
            json.dump(record, f)
        os.replace(path + ".part", path)
    except Exception:  # recording must never change what the program does
        pass


# ---- parent side: the grading process ----

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
    from graders.engine import stacks
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
            found.append((info.st_mtime_ns, name, _checked(json.loads(text), submission, stacks)))
        except Exception:  # OSError, or a forged file (ValueError, RecursionError, ...): not a crash
            continue
    return [crash for _, _, crash in sorted(found, key=lambda x: (x[0], x[1]))]


def _checked(record, submission: str, stacks) -> Crash:
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
