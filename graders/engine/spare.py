"""A pytest process started before its grading: `python -m graders.engine.spare`.

It imports pytest, hypothesis and the kit's grading modules, the start-up a
grading otherwise waits for, then waits on stdin for one line: the JSON list of
its pytest arguments (engine/grade.py's `pytest_args`). With it, it runs
exactly what `python -m pytest ARGS` runs, in the environment it was started
with, and ends. One grading each: nothing of a grading survives into the next.

It never sees the student's code: it is started before the file it will grade
is staged, and like every grading process it reaches that code only through
the child processes of its runs. The checks' own modules are not imported in
advance: one of them reads the hypothesis profile, which only the plugin's
configuration sets.
"""
import json
import os
import sys

PRELOAD = ("pytest", "hypothesis", "psutil", "graders.engine.plugin", "graders.engine.checks",
           "graders.engine.run", "graders.engine.report")


def main() -> int:
    try:
        import importlib
        for name in PRELOAD:
            importlib.import_module(name)
        line = sys.stdin.readline()
    except KeyboardInterrupt:  # Ctrl-C at the terminal while it waited: the grader stops it anyway
        return 130
    if not line.strip():  # the watch ended before this grading came: nothing to do
        return 0
    args = json.loads(line)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # as a cold grade's pytest: nothing to read
    os.close(devnull)
    import pytest
    sys.argv[1:] = [str(a) for a in args]
    return pytest.console_main()


if __name__ == "__main__":
    sys.exit(main())
