"""Exceptions that end a process or thread of the student's program.

A process that dies of an exception prints a traceback to its stderr and
exits with code 1; a thread prints one and ends. Neither reaches the probe, so
a check would only see what followed (a missing pause, a wrong count, a
hang). `install()` (from boot/sitecustomize.py, in every process of a run)
records each such exception in a file of its own in the run's stacks folder;
the grading process reads them back (engine/crashlog.py). Loaded in every
process of a run, so it imports nothing heavy.

An exception the student's code catches never gets here. Pool and executor
tasks are caught by multiprocessing itself and raised again at `.get()` or
`.result()`, in the code that waits for them.
"""
from __future__ import annotations

import json
import os
import threading

FILE_PREFIX = "crash-"
MAX_FRAMES = 40
MAX_MESSAGE = 2000

_folder = None



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
