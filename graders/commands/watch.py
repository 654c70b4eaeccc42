"""`watch`: regrade an exercise every time its file is saved."""
from __future__ import annotations

import sys

from graders.commands.grade import choose_exercises, choose_methods, grade_and_report

HELP_FULL = "grade in full mode (every start method) instead of quick mode"
CLEAR = "\033[2J\033[H"


def add_arguments(parser) -> None:
    parser.add_argument("exercise", metavar="EXERCISE", help="the exercise to watch")
    parser.add_argument("--full", action="store_true", help=HELP_FULL)


def run(args) -> int:
    from watchfiles import watch  # only this command needs it

    exercise = choose_exercises([args.exercise])[0]
    source = exercise.exercise_dir / exercise.stub
    quick = not args.full
    methods = choose_methods(None, quick)
    try:
        while True:
            if sys.stdout.isatty():
                sys.stdout.write(CLEAR)
            grade_and_report([exercise], {exercise.name: source}, methods, quick)
            print(f"\nWatching {source.relative_to(exercise.exercise_dir.parents[1])}: "
                  "save it to grade again, Ctrl-C to stop.", flush=True)
            for _ in watch(source, debounce=300, raise_interrupt=True):
                break
    except KeyboardInterrupt:
        print("\nStopped watching.")
        return 0
