"""`hint`: the next hint for an exercise, from gentle to specific."""
from __future__ import annotations

from graders.cli import state
from graders.cli.grade import choose_one
from graders.engine.report import Paint, use_colour, use_unicode


def add_arguments(parser) -> None:
    parser.add_argument("exercise", metavar="EXERCISE", nargs="?", help="the exercise you want a hint for")
    parser.add_argument("--again", action="store_true", help="show the hints seen so far, without a new one")


def run(args) -> int:
    exercise = choose_one(args.exercise, "nox -s hint -- NAME")
    hints = exercise.hints
    if not hints:
        print(f"{exercise.name} has no hints.")
        return 0
    seen = min(state.hints_shown().get(exercise.name, 0), len(hints))
    shown = seen if args.again and seen else min(seen + 1, len(hints))
    paint = Paint(use_colour(), use_unicode())
    for number in range(1, shown + 1):
        print(f"Hint {number} of {len(hints)} for {exercise.name}: {paint.code(hints[number - 1])}")
    if shown == len(hints):
        print("That was the last hint. The statement is in "
              f"exercises/{exercise.name}/README.md.")
    else:
        print(f"Run it again for hint {shown + 1}.")
    state.count_hint(exercise.name, shown)
    return 0
