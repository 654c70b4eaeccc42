"""Turn faulthandler dumps and Python tracebacks into the student's own lines.

A student never sees a frame of grader code: every frame outside the
submission's folder is dropped, and each kept frame names the file by its
base name, with the source line it was on. And an error message, or a
program's stderr, is recognised when it says that something could not be
pickled (the usual way code that works under fork fails under spawn). What
the kit itself makes a run print (a warning its abrupt exit causes) is dropped.
"""
from __future__ import annotations

import linecache
import os
import re

_THREAD = re.compile(r"^(Current thread|Thread) (0x[0-9a-f]+)")
_FRAME = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')
_TB_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
# What pickle and multiprocessing say when something cannot be sent to another process, or a
# process cannot rebuild what it was sent (Python 3.11 to 3.14 wordings).
_PICKLING = re.compile(
    r"PicklingError"
    r"|Can't pickle"
    r"|Can't get local object"
    r"|Can't get attribute '[^']*' on <module"
    r"|cannot pickle '[^']*' object"
    r"|Pickling an \w+ object is disallowed"
    r"|AttributeError: .*<lambda>")
_UNPICKLABLE = re.compile(r"cannot pickle '(?P<type>[^']+)' object")
# As a run ends, its resource tracker warns of the semaphores still registered. The runner
# leaves with os._exit (child/main.py), which skips the finalizers that unregister them, so the
# warning is the kit's doing, whatever the program did; and it comes or not depending on
# whether the tracker writes it before the run's processes are killed.
_LEAKED_SEMAPHORES = re.compile(r"UserWarning: resource_tracker: There appear to be \d+ leaked semaphore objects")


def inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)
    except ValueError:
        return False


def describe_frame(path: str, line: int, func: str) -> str:
    source = linecache.getline(path, line).strip()
    where = f"{os.path.basename(path)}:{line} in {func}"
    return f"{where}: {source}" if source else where


def student_stacks(dump: str, folder: str) -> list[list[str]]:
    """Each thread's frames inside `folder`, innermost first; threads with none are left out."""
    threads, frames = [], None
    for line in dump.splitlines():
        if _THREAD.match(line):
            frames = []
            threads.append(frames)
            continue
        match = _FRAME.match(line)
        if match and frames is not None and inside(match["file"], folder):
            frames.append(describe_frame(match["file"], int(match["line"]), match["func"]))
    return [t for t in threads if t]


def shows_pickling_error(text: str) -> bool:
    """Whether an error message, or a program's stderr, says something could not be pickled."""
    return bool(text) and _PICKLING.search(text) is not None


def unpicklable_type(text: str) -> str | None:
    """The type named by "cannot pickle 'TYPE' object" (a lock, a generator, ...), if any."""
    match = _UNPICKLABLE.search(text or "")
    return match["type"] if match else None


def drop_exit_warnings(text: str) -> str:
    """Drop the resource tracker's warning of leaked semaphores, and the source line under it."""
    kept, under_warning = [], False
    for line in text.splitlines():
        if _LEAKED_SEMAPHORES.search(line):
            under_warning = True
            continue
        if under_warning and line.lstrip().startswith("warnings.warn("):
            under_warning = False
            continue
        under_warning = False
        kept.append(line)
    return "\n".join(kept)


def clean_traceback(text: str, folder: str) -> str:
    """Drop the frames of a printed traceback that are not the student's."""
    kept, skip_source = [], False
    for line in text.splitlines():
        match = _TB_FRAME.match(line)
        if match:
            skip_source = not inside(match["file"], folder)
            if not skip_source:
                kept.append(f'  File "{os.path.basename(match["file"])}", line {match["line"]}, in {match["func"]}')
            continue
        if skip_source and line.startswith("    "):
            continue
        skip_source = False
        kept.append(line)
    return "\n".join(kept)
