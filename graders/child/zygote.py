"""The zygote: one Python per grading process that has imported multiprocessing and the kit's child
side once, and forks each run's first process from there instead of starting an interpreter per run.

Starting a Python and importing multiprocessing and the kit costs a run more CPU than most programs
under test use; a fork costs a few milliseconds. The zygote never imports student code, so what a
run's child inherits from it is exactly what `python -m graders.child.main JOB` would have loaded
itself before the student's module.

The grading process writes one request at a time, a JSON line, on the request pipe (engine/zygote.py).
The zygote forks; the child leaves the grader's session, becomes the sandbox user (confine.py), takes
the run's output files, folder, environment and import path, boots as a fresh interpreter of the run
would (child/boot/sitecustomize.py) and runs child/main.py. The zygote answers {"pid": ...} at once
and {"pid": ..., "code": ...} when that child ends (a negative code: killed by that signal).
It ends when the request pipe closes, or with the grading process that started it.
"""
import json
import os
import signal
import sys

# What a run's child imports before the student's module (boot/sitecustomize.py, main.py and
# multiprocessing's forkserver), loaded once here; the probes come as arguments. Nothing more: a module
# the student imports first, in a run, may capture what the kit patches later (a Manager's registry
# of lock types, which lock tracing replaces), and must come after those patches, as it would alone.
PRELOAD = ("graders.child.crashes", "graders.child.main", "graders.child.pause", "graders.child.errors",
           "graders.child.confine", "multiprocessing.forkserver")
_PR_SET_PDEATHSIG = 1


def serve(requests: int, replies: int, preload: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle; it closes our pipe
    _die_with_parent()
    from graders.child import timed
    timed.patch()  # first, as boot/sitecustomize.py does in a fresh interpreter
    for name in (*PRELOAD, *preload):
        try:
            __import__(name)
        except Exception:  # a module this system lacks (no sem_open): the run finds out as it would alone
            pass
    base_path = _base_path()
    _say(replies, {"ready": os.getpid()})
    with os.fdopen(requests, "rb") as lines:
        for line in lines:
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                _become_run(request, base_path)  # never returns
            _say(replies, {"pid": pid})
            _, status = os.waitpid(pid, 0)
            _say(replies, {"pid": pid, "code": os.waitstatus_to_exitcode(status)})


def _become_run(request: dict, base_path: list[str]) -> None:
    try:
        _take_files(request)
        os.chdir(request["cwd"])
        from graders.child import confine
        confine.apply(request["confine"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _as_a_fresh_interpreter(request, base_path)
        from graders.child import main
        main.main(request["job"])
    except BaseException:
        import traceback
        traceback.print_exc()
        sys.stderr.flush()
    os._exit(1)


def _take_files(request: dict) -> None:
    """stdin from /dev/null, stdout and stderr into the run's files, and no other file of ours."""
    written = os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW  # files the grader made for this run, never a link
    for fd, path, flags in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], written),
                            (2, request["stderr"], written)):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))


def _as_a_fresh_interpreter(request: dict, base_path: list[str]) -> None:
    """What `python -m graders.child.main JOB` in the run's folder and environment would have had."""
    import importlib
    import multiprocessing.process
    import tempfile

    os.environ.clear()
    os.environ.update(request["env"])
    given = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [request["cwd"], *given, *base_path]
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    from graders.child import main
    sys.argv = [main.__file__, request["job"]]
    tempfile.tempdir = None  # found again from TMPDIR, the run's own
    multiprocessing.process.ORIGINAL_DIR = request["cwd"]
    multiprocessing.process.current_process().authkey = os.urandom(32)  # each run its own, as at start-up
    boot = importlib.util.spec_from_file_location("sitecustomize", request["boot"])
    module = importlib.util.module_from_spec(boot)
    sys.modules["sitecustomize"] = module
    boot.loader.exec_module(module)


def _base_path() -> list[str]:
    """The import path a Python has of its own: ours without the folder we started in and PYTHONPATH."""
    given = {os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    return [p for p in sys.path[1:] if os.path.realpath(p) not in given]


def _say(fd: int, message: dict) -> None:
    os.write(fd, json.dumps(message).encode() + b"\n")


def _die_with_parent() -> None:
    try:
        import ctypes
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the grading process was gone before we could ask
        os._exit(0)


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
