"""The kit's command line: `python -m graders grade [EXERCISE ...]`.

Exit codes: 0 every check passed, 1 some check failed, 2 usage error,
3 the graders themselves could not run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from graders.engine import manifest
from graders.engine.grade import START_METHODS, STATE, GraderError, grade
from graders.engine.report import render, use_colour, use_unicode

HELP_EXERCISES = "exercises to grade (default: all of them, in order)"
HELP_METHODS = "comma-separated start methods (default: fork,spawn,forkserver)"
HELP_QUICK = "quick mode for the inner loop: forkserver only and fewer generated cases"
HELP_CHECKS = "comma-separated names of the checks to run (default: all)"
HELP_JSON = "also write the results as JSON to this file"
HELP_SUBMISSION = ("grade this submission instead of exercises/: a folder laid out like exercises/ "
                   "(NAME/STUB), or one stub file when grading one exercise")


class UsageError(Exception):
    """Bad input from the person at the keyboard: exit code 2."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m graders", description="Grade multiprocessing exercises.")
    commands = top.add_subparsers(dest="command", required=True)
    g = commands.add_parser("grade", help="grade exercises and print a report",
                            description="Grade your exercises with the kit's graders.")
    g.add_argument("exercises", nargs="*", metavar="EXERCISE", help=HELP_EXERCISES)
    g.add_argument("--methods", help=HELP_METHODS)
    g.add_argument("--quick", action="store_true", help=HELP_QUICK)
    g.add_argument("--checks", default="", help=HELP_CHECKS)
    g.add_argument("--json", type=Path, metavar="FILE", help=HELP_JSON)
    g.add_argument("--submission", type=Path, metavar="PATH", help=HELP_SUBMISSION)
    return top


def choose_exercises(names: list[str]) -> list[manifest.Exercise]:
    known = manifest.load()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown exercise {', '.join(map(repr, unknown))}; choose from: {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)] if names else list(known.values())


def choose_methods(text: str | None, quick: bool) -> list[str]:
    if not text:
        return ["forkserver"] if quick else list(START_METHODS)
    methods = [m.strip() for m in text.split(",") if m.strip()]
    wrong = [m for m in methods if m not in START_METHODS]
    if wrong or not methods:
        raise UsageError(f"unknown start method {', '.join(map(repr, wrong))}; choose from: {', '.join(START_METHODS)}")
    return list(dict.fromkeys(methods))


def choose_sources(path: Path | None, exercises: list[manifest.Exercise], named: bool) -> dict[str, Path]:
    """Which file to grade for each exercise; only the stub files are ever taken."""
    if path is None:
        return {e.name: e.exercise_dir / e.stub for e in exercises}
    if path.is_file():
        if len(exercises) != 1 or not named:
            raise UsageError("a single file can be graded for one exercise only: name it, e.g. `grade lock`")
        return {exercises[0].name: path}
    if not path.is_dir():
        raise UsageError(f"no such submission: {path}")
    sources = {e.name: path / e.name / e.stub for e in exercises}
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        raise UsageError(f"the submission has no {', '.join(missing)}")
    return sources


def run_grade(args) -> int:
    exercises = choose_exercises(args.exercises)
    methods = choose_methods(args.methods, args.quick)
    sources = choose_sources(args.submission, exercises, named=bool(args.exercises))
    checks = [c for c in args.checks.split(",") if c]
    print(f"Grading {', '.join(e.name for e in exercises)} under {', '.join(methods)} ...", flush=True)
    result = grade(exercises, sources=sources, methods=methods, quick=args.quick, checks=checks,
                   results_path=STATE / "results.json", log_path=STATE / "grade.log")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(result.to_json())
    print(render(result, colour=use_colour(), unicode=use_unicode()))
    return 0 if result.passed else 1


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return run_grade(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except GraderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
