"""The kit's command line: `python -m graders COMMAND ...`; `--help` lists the commands.

Exit codes: 0 success (every check passed), 1 some check failed, 2 usage
error, 3 the graders themselves could not run, 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys

from graders.commands import autograder, grade, gradescope, handout, hint, status, watch
from graders.engine.grade import GraderError

COMMANDS = {
    "grade": (grade, "grade exercises and print a report"),
    "hint": (hint, "show the next hint for an exercise"),
    "status": (status, "show every exercise's state and score, and your progress"),
    "watch": (watch, "regrade an exercise on every save"),
    "handout": (handout, "build the student handout: dist/handout/ and dist/handout.zip"),
    "autograder": (autograder, "build the Gradescope autograder: dist/autograder.zip"),
    "gradescope": (gradescope, "grade a Gradescope submission into results.json (run by run_autograder)"),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m graders", description="Multiprocessing exercise kit.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=module.__doc__.splitlines()[0])
        module.add_arguments(sub)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    module = COMMANDS[args.command][0]
    try:
        return module.run(args)
    except (grade.UsageError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except GraderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
