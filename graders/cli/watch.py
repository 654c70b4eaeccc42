"""`watch`: regrade an exercise every time its file is saved.

A save made while a grade runs is not lost: when the grade ends, the file is
compared with the one just graded, and a changed file is graded at once.
The grader stays warm between saves (engine/warm.py), runs the checks that
failed last before the others, and tells each check's verdict as it is decided.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from graders.cli.grade import choose_one, choose_methods, grade_and_report

HELP_FULL = "grade in full mode (every start method) instead of quick mode"
CLEAR = "\033[2J\033[H"
LOOK_EVERY = 1000  # ms: the file is compared at least this often, whatever the file watcher saw
SEPARATOR = "-" * 72  # between reports when the screen cannot be cleared (output to a file or a pipe)


def add_arguments(parser) -> None:
    parser.add_argument("exercise", metavar="EXERCISE", nargs="?", help="the exercise to watch")
    parser.add_argument("--full", action="store_true", help=HELP_FULL)


def run(args) -> int:
    exercise = choose_one(args.exercise, "nox -s watch -- NAME")
    source = exercise.exercise_dir / exercise.stub
    quick = not args.full
    methods = choose_methods(None, quick)
    shown = source.relative_to(exercise.exercise_dir.parents[1])

    def grade_once(warm, failed):
        if sys.stdout.isatty():
            sys.stdout.write(CLEAR)
        else:
            print(SEPARATOR)
        grade_and_report([exercise], {exercise.name: source}, methods, quick,
                         grade_with=lambda *a, **k: _grade_warm(warm, failed, *a, **k))
        print(f"\nGraded {shown} at {time.strftime('%H:%M:%S')}. Watching it: save it to grade again, "
              "Ctrl-C to stop.", flush=True)

    from graders.engine.warm import WarmGrader  # pytest and the rest stay unloaded here: the spares load them

    try:
        with WarmGrader([exercise], methods=methods, quick=quick) as warm:
            failed: list[str] = []  # the checks that failed last: they run first next time
            watch_loop(source, lambda: grade_once(warm, failed), _wait_for_change)
    except KeyboardInterrupt:
        print("\nStopped watching.")
    return 0


def _grade_warm(warm, failed: list[str], exercises, *, progress, **options):
    """A grading by the warm grader that tells each check's verdict as it is decided, and
    remembers the checks that failed, to run them first the next time."""
    from graders.engine.live import LiveVerdicts
    from graders.engine.report import use_colour, use_unicode

    def show(text):
        progress.clear()
        print(text, flush=True)

    live = LiveVerdicts(len(warm.slots), show, colour=use_colour(), unicode=use_unicode(), exercises=len(exercises))
    result = warm.grade(exercises, first=tuple(failed), progress=progress, events=live, **options)
    failed[:] = [c.name for e in result.exercises for c in e.checks if not c.passed]
    return result


def watch_loop(source: Path, grade_once, wait_for_change) -> None:
    """Grade the file, then wait until it differs from what was graded, for ever.

    `wait_for_change(source, changed)` returns once `changed()` is true; the
    file's contents, not its events, decide, so a save during a grade, or an
    editor that replaces the file instead of writing it, still counts.
    """
    graded = None
    while True:
        current = _contents(source)
        if graded is None or current != graded:
            graded = current
            grade_once()
            continue
        wait_for_change(source, lambda: _contents(source) != graded)


def _wait_for_change(source: Path, changed) -> None:
    from watchfiles import watch  # only this command needs it

    # The folder, not the file: an editor that saves by renaming a new file over it
    # would leave a watch on the file itself looking at the old one.
    for _ in watch(source.parent, debounce=300, rust_timeout=LOOK_EVERY, yield_on_timeout=True,
                   raise_interrupt=True):
        if changed():
            return


def _contents(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""  # gone for a moment (an editor's save) or for good: the grade says which
