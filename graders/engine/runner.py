"""The child process of a check: the only place where student code runs.

`python -m graders.engine.runner JOB` sets the start method, imports the
student's module, hands it to the grader's probe with a `pause` hook, and
writes what the probe returned as JSON. The grading process never unpickles
anything from here, and never trusts this process's exit code or output: it
decides the verdict from this JSON and from what it observed itself.
"""
import importlib
import json
import multiprocessing
import os
import sys
import traceback


def _jsonable(value, depth=0):
    """Plain JSON data; anything else becomes {"repr": ..., "type": ...}."""
    if depth > 20:
        return {"repr": "...", "type": type(value).__name__}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _jsonable(v, depth + 1) for k, v in value.items()}
    return {"repr": repr(value)[:500], "type": type(value).__name__}


def describe_exception(error: BaseException, folder: str) -> dict:
    """What a student needs to know of an exception: type, message, their frames."""
    frames = [
        {"file": f.filename, "line": f.lineno, "func": f.name}
        for f in traceback.extract_tb(error.__traceback__)
        if os.path.realpath(f.filename).startswith(os.path.realpath(folder) + os.sep)
    ]
    return {
        "type": type(error).__name__,
        "types": [t.__name__ for t in type(error).__mro__],
        "message": str(error)[:2000],
        "frames": frames,
    }


def main(job_path: str) -> None:
    with open(job_path) as f:
        job = json.load(f)
    multiprocessing.set_start_method(job["start_method"], force=True)
    from graders.engine.hook import Pause

    module_path, _, func_name = job["probe"].partition(":")
    probe = getattr(importlib.import_module(module_path), func_name)
    try:
        student = importlib.import_module(job["module"])
        out = {"value": _jsonable(probe(student, Pause(job["pause_address"]), **job["params"]))}
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: all are the student's
        out = {"error": describe_exception(error, job["submission"])}
    sys.stdout.flush()
    sys.stderr.flush()
    partial = job["result"] + ".part"
    with open(partial, "w") as f:
        json.dump(out, f)
    os.replace(partial, job["result"])
    # Leave at once: a normal exit would join the student's leftover children.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
