"""Loaded at start-up by every Python process of a check run (it sits on PYTHONPATH).

It arms faulthandler so that, when a check's deadline expires, the engine can ask
every process for the stacks of all its threads (SIGUSR1) before it kills the
tree. Each process writes to its own file, named by its pid, so dumps from many
processes never interleave; a forked child opens a file of its own. It
records, in the same folder, each exception that ends a thread or a process of
the program (child/crashes.py), so the report can tell that crash first.

It also hands the student's timed waits to the grader's clock (child/timed.py)
in every process, spawned ones included, before the student's code is imported.
"""
import faulthandler
import os
import signal
import sys

_folder = os.environ.get("KIT_STACKS_DIR")
_file = None
# multiprocessing's resource tracker, started exactly so, runs none of the student's code: it needs
# neither the crash records nor the grader's clock, and a run starts one (or more) in every process
# that makes a lock under spawn or forkserver.
_TRACKER = "from multiprocessing.resource_tracker import main;main("


def _is_tracker(argv) -> bool:
    code = argv[-1] if len(argv) >= 2 and argv[-2] == "-c" else ""
    return code.startswith(_TRACKER) and code.endswith(")") and code[len(_TRACKER):-1].isdigit()


_tracker = _is_tracker(getattr(sys, "orig_argv", []))


def _arm():
    global _file
    if _file is not None:
        _file.close()
    _file = open(os.path.join(_folder, f"{os.getpid()}.txt"), "w")
    faulthandler.register(signal.SIGUSR1, file=_file, all_threads=True)


if _folder and os.path.isdir(_folder):
    try:
        _arm()
        os.register_at_fork(after_in_child=_arm)
    except OSError:
        pass
    try:
        if not _tracker:
            from graders.child import crashes
            crashes.install(_folder)
    except ImportError:  # the kit is not on the path: stacks only
        pass

if os.environ.get("KIT_PAUSE_ADDRESS") and os.environ.get("KIT_STUDENT_DIR") and not _tracker:
    try:
        from graders.child import timed
    except ImportError:  # the kit is out of reach: timed waits keep the wall clock
        pass
    else:
        timed.install(os.environ["KIT_PAUSE_ADDRESS"], os.environ["KIT_STUDENT_DIR"])
