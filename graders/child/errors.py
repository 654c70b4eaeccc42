"""An exception raised by the student's code, as plain data for the grader.

Used in the child processes only: by the runner, for an exception that ends
the probe, and by probes that report what each call of the student's code
raised. It imports no other module of the kit, so the forkserver can preload
it (child/main.py) without loading the runner, which a child runs as its main.
"""
import os
import traceback


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
