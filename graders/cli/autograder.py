"""`autograder`: build the Gradescope autograder zip (setup.sh, run_autograder, the kit).

Upload dist/autograder.zip as a Gradescope programming assignment's
autograder. It grades /autograder/submission with every check, public and
hidden, and writes /autograder/results/results.json. Name the exercises of
the assignment (default: all of them).
"""
from __future__ import annotations

from graders.classroom import bundle
from graders.cli import handout

HELP_EXERCISES = "exercises the assignment grades (default: all of them)"


def add_arguments(parser) -> None:
    handout.add_arguments(parser, exercises_help=HELP_EXERCISES)


def run(args) -> int:
    from graders.cli.grade import choose_exercises

    exercises = choose_exercises(args.exercises)
    folder, archive = bundle.build_autograder(exercises, out=args.out)
    print(f"Gradescope autograder for {', '.join(e.name for e in exercises)}: {archive} (built in {folder})")
    return 0
