"""`autograder`: build the Gradescope autograder zip (setup.sh, run_autograder, the kit).

Upload dist/autograder.zip as a Gradescope programming assignment's
autograder. It grades /autograder/submission with every check, public and
hidden, and writes /autograder/results/results.json. Name the exercises of
the assignment (default: all of them).
"""
from __future__ import annotations

from pathlib import Path

from graders.classroom import bundle

HELP_EXERCISES = "exercises the assignment grades (default: all of them)"
HELP_OUT = "where to build (default: dist/ in the kit)"


def add_arguments(parser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help=HELP_EXERCISES)
    parser.add_argument("--out", type=Path, default=bundle.DIST, metavar="DIR", help=HELP_OUT)


def run(args) -> int:
    from graders.cli.grade import choose_exercises

    exercises = choose_exercises(args.exercises)
    folder, archive = bundle.build_autograder(exercises, out=args.out)
    print(f"Gradescope autograder for {', '.join(e.name for e in exercises)}: {archive} (built in {folder})")
    return 0
