"""The child process of a check: the only place where student code runs.

`main(JOB)`, in a child forked by the zygote (child/zygote.py), or `python -m
graders.child.main JOB` by hand, sets the start method, imports the
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

from graders.child.errors import describe_exception


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


def main(job_path: str) -> None:
    with open(job_path) as f:
        job = json.load(f)
    multiprocessing.set_start_method(job["start_method"], force=True)
    module_path, _, func_name = job["probe"].partition(":")
    # A forkserver child imports afresh whatever it unpickles: the pause hook,
    # the probe, what they import. Loading those in the forkserver once, not
    # in every child, spares each forkserver child that work. The student's module is
    # never preloaded: each child imports it for itself, as it would without
    # the kit, so module-level state that only fork would share stays
    # unshared. Nor is this module, which `python -m` runs as a main by hand
    # (runpy warns if it is loaded already). So a probe must only define things
    # when imported, and must not import this module.
    multiprocessing.set_forkserver_preload(["__main__", "json", "graders.child.pause", module_path])
    from graders.child.pause import Pause

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
