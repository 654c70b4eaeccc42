"""The kit's command line: `python -m graders COMMAND ...`; `--help` lists the commands.

Exit codes: 0 success (every check passed), 1 some check failed, 2 usage
error, 3 the graders themselves could not run, 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from graders.commands.grade import UsageError
from graders.engine.grade import GraderError

# Each command's module is imported only when that command runs: building the
# handout or a batch needs modules that every `grade` would otherwise load
# first, and `grade` is the command a student waits for most often.
COMMANDS = {
    "grade": ("graders.commands.grade", "grade exercises and print a report"),
    "hint": ("graders.commands.hint", "show the next hint for an exercise"),
    "status": ("graders.commands.status", "show every exercise's state and score, and your progress"),
    "watch": ("graders.commands.watch", "regrade an exercise on every save"),
    "handout": ("graders.commands.handout", "build the student handout: dist/handout/ and dist/handout.zip"),
    "autograder": ("graders.commands.autograder", "build the Gradescope autograder: dist/autograder.zip"),
    "gradescope": ("graders.commands.gradescope",
                   "grade a Gradescope submission into results.json (run by run_autograder)"),
    "merge": ("graders.commands.merge", "join the gradebooks of a class's shards (grade --shard K/N) into one"),
}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; only `command` (when given) gets its own options."""
    top = argparse.ArgumentParser(prog="python -m graders", description="Multiprocessing exercise kit.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (path, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if name == command:
            module = importlib.import_module(path)
            sub.description = module.__doc__.splitlines()[0]
            module.add_arguments(sub)
    return top


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    args = parser(command).parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return module.run(args)
    except (UsageError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except GraderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
