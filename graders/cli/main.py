"""The kit's command line: `python -m graders COMMAND ...`; `--help` lists the commands.

Exit codes: 0 success (every check passed), 1 some check failed, 2 usage
error, 3 the graders themselves could not run, 130 interrupted.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import sys

from graders.cli.usage import UsageError
from graders.engine.grading import GraderError

# Each command's module is imported only when that command runs: building the
# handout or a batch needs modules that every `grade` would otherwise load
# first, and `grade` is the command a student waits for most often.
COMMANDS = {
    "grade": ("graders.cli.grade", "grade exercises and print a report"),
    "hint": ("graders.cli.hint", "show the next hint for an exercise"),
    "status": ("graders.cli.status", "show every exercise's state and score, and your progress"),
    "watch": ("graders.cli.watch", "regrade an exercise on every save"),
    "handout": ("graders.cli.handout", "build the student handout: dist/handout/ and dist/handout.zip"),
    "autograder": ("graders.cli.autograder", "build the Gradescope autograder: dist/autograder.zip"),
    "gradescope": ("graders.cli.gradescope",
                   "grade a Gradescope submission into results.json (run by run_autograder)"),
    "merge": ("graders.cli.merge", "join the gradebooks of a class's shards (grade --shard K/N) into one"),
}


# The commands a student or an instructor runs through nox, with the same name: their help is
# `nox -s NAME -- --help`. Any other is run as `python -m graders NAME`.
SESSIONS = {"grade", "hint", "status", "watch", "handout", "autograder"}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; only `command` (when given) gets its own options."""
    return _parsers(command)[0]


def _parsers(command: str | None) -> tuple[argparse.ArgumentParser, dict]:
    top = argparse.ArgumentParser(prog="python -m graders", description="Multiprocessing exercise kit.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subs = {}
    for name, (path, help_text) in COMMANDS.items():
        sub = subs[name] = commands.add_parser(name, help=help_text)
        if name == command:
            module = importlib.import_module(path)
            sub.description = module.__doc__.splitlines()[0]
            module.add_arguments(sub)
    return top, subs


def unknown(extra: list[str], sub: argparse.ArgumentParser, command: str) -> str:
    """What a command says of arguments it does not take: the nearest option, and where its help is."""
    word = extra[0]
    helped = f"nox -s {command} -- --help" if command in SESSIONS else f"python -m graders {command} --help"
    if not word.startswith("-"):
        return f"unexpected argument {word!r}; `{helped}` lists what {command} takes"
    options = [o for action in sub._actions for o in action.option_strings if o.startswith("--")]
    near = difflib.get_close_matches(word.split("=", 1)[0], options, n=1, cutoff=0.75)
    maybe = f"; did you mean {near[0]}?" if near else ";"
    return f"unknown option {word}{maybe} `{helped}` lists the options"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    top, subs = _parsers(command)
    args, extra = top.parse_known_args(argv)
    if extra:  # the command's own usage, not the kit's: the student typed that command
        subs[args.command].error(unknown(extra, subs[args.command], args.command))
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
