"""`handout`: build the student handout, a folder and a zip, from the kit.

It holds the exercises, their statements, the public checks and the engine,
with a grade session that works without the hidden checks, and a GitHub
Actions workflow that grades every push; no solutions, no hidden checks, no
kit tests.
"""
from __future__ import annotations

from pathlib import Path

from graders.classroom import bundle

HELP_EXERCISES = "exercises to hand out (default: all of them)"
HELP_OUT = "where to build (default: dist/ in the kit)"


def add_arguments(parser, exercises_help: str = HELP_EXERCISES) -> None:
    """The options of both bundles, this one and the autograder: which exercises, and where to."""
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help=exercises_help)
    parser.add_argument("--out", type=Path, default=bundle.DIST, metavar="DIR", help=HELP_OUT)


def run(args) -> int:
    from graders.cli.grade import choose_exercises

    exercises = choose_exercises(args.exercises)
    folder, archive = bundle.build_handout(exercises, out=args.out)
    print(f"Handout of {', '.join(e.name for e in exercises)}: {folder} and {archive}")
    return 0
