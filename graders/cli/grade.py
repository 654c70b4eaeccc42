"""`grade`: grade exercises, print the report, remember the result for `status`."""
from __future__ import annotations

import sys
from pathlib import Path

from graders.cli import state
from graders.cli import submissions as batch
from graders.classroom import formats
from graders.engine.files import write_whole
from graders.engine import manifest
from graders.engine.grading import grade
from graders.engine.settings import START_METHODS
from graders.engine.report import render, use_colour, use_unicode
from graders.cli.usage import UsageError

HELP_EXERCISES = "exercises to grade (default: all of them, in order)"
HELP_METHODS = "comma-separated start methods (default: fork,spawn,forkserver)"
HELP_QUICK = ("quick mode for the inner loop: forkserver only (a check pinned to another start method "
              "keeps it) and fewer generated cases")
HELP_CHECKS = "comma-separated names of the checks to run (default: all)"
HELP_JSON = "also write the results as JSON to this file"
HELP_SUBMISSION = ("grade this submission instead of exercises/: a folder laid out like exercises/ "
                   "(NAME/STUB), or one stub file when grading one exercise")


def add_arguments(parser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help=HELP_EXERCISES)
    parser.add_argument("--methods", help=HELP_METHODS)
    parser.add_argument("--quick", action="store_true", help=HELP_QUICK)
    parser.add_argument("--checks", default="", help=HELP_CHECKS)
    parser.add_argument("--json", type=Path, metavar="FILE", help=HELP_JSON)
    parser.add_argument("--submission", type=Path, metavar="PATH", help=HELP_SUBMISSION)
    for name in formats.FORMATS:
        parser.add_argument(f"--{name}", type=Path, metavar="FILE", help=f"also write the results as {name} to FILE")
    batch.add_arguments(parser)


def choose_exercises(names: list[str]) -> list[manifest.Exercise]:
    known = manifest.load()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown exercise {', '.join(map(repr, unknown))}; choose from: {', '.join(known)}")
    return [known[n] for n in dict.fromkeys(names)] if names else list(known.values())


def choose_one(name: str | None, usage: str) -> manifest.Exercise:
    """The one exercise a command is about; with none named, a usage error that shows how to name it."""
    if not name:
        raise UsageError(f"name an exercise: {usage}, where NAME is one of: {', '.join(manifest.load())}")
    return choose_exercises([name])[0]


def choose_methods(text: str | None, quick: bool) -> list[str]:
    if not text:
        return ["forkserver"] if quick else list(START_METHODS)
    methods = [m.strip() for m in text.split(",") if m.strip()]
    wrong = [m for m in methods if m not in START_METHODS]
    if wrong or not methods:
        raise UsageError(f"unknown start method {', '.join(map(repr, wrong))}; choose from: {', '.join(START_METHODS)}")
    return list(dict.fromkeys(methods))


def choose_checks(text: str, exercises: list[manifest.Exercise]) -> list[str]:
    """The check IDs asked for, each a check of one of the exercises graded."""
    checks = list(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    known = [c for e in exercises for c in e.checks]
    unknown = [c for c in checks if c not in known]
    if unknown:
        raise UsageError(f"unknown check {', '.join(map(repr, unknown))} for "
                         f"{', '.join(e.name for e in exercises)}; the checks are: {', '.join(known)} "
                         "(the IDs are listed in each exercise's README)")
    return checks


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


class ProgressLine:
    """One line on a terminal that says which check is running; nothing elsewhere."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.live = stream.isatty()

    def __call__(self, done, total, exercise, title):
        if self.live:
            text = f"[{done}/{total}] {exercise}: {title}"[:79]
            self.stream.write("\r\033[K" + text)
            self.stream.flush()

    def clear(self):
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()


def run(args) -> int:
    exercises = choose_exercises(args.exercises)
    methods = choose_methods(args.methods, args.quick)
    checks = choose_checks(args.checks, exercises)
    if args.submissions is not None:
        if args.submission is not None:
            raise UsageError("give --submission (one) or --submissions (a folder of them), not both")
        return batch.run(args, exercises, methods, checks, UsageError)
    if args.shard is not None:  # a shard of one submission would be graded whole, and look like a shard
        raise UsageError("--shard needs --submissions ROOT: it grades one shard of a class of submissions")
    sources = choose_sources(args.submission, exercises, named=bool(args.exercises))
    files = {name: getattr(args, name) for name in formats.FORMATS if getattr(args, name, None)}
    return grade_and_report(exercises, sources, methods, args.quick, checks, args.json,
                            remember=args.submission is None and not checks, files=files)


def grade_and_report(exercises, sources, methods, quick, checks=(), json_path=None, remember=True,
                     files=None, grade_with=grade) -> int:
    names = ', '.join(e.name for e in exercises)
    if quick:  # a check pinned to another start method (fork, say) keeps it: see the report's last line
        print(f"Grading {names} in quick mode: fewer generated cases, under {', '.join(methods)} "
              "(a check that needs another start method keeps it) ...", flush=True)
    else:
        print(f"Grading {names} under {', '.join(methods)} ...", flush=True)
    line = ProgressLine()
    try:
        result = grade_with(exercises, sources=sources, methods=methods, quick=quick, checks=checks,
                            log_path=state.STATE / "grade.log", progress=line)
    finally:
        line.clear()
    if json_path:
        write_whole(json_path, result.to_json())
    for name, path in (files or {}).items():
        write_whole(path, formats.render(name, result))
    if remember:
        for exercise in result.exercises:
            state.save_grade(exercise, sources[exercise.name], result.mode)
    print(render(result, colour=use_colour(), unicode=use_unicode(), some_checks=bool(checks)))
    return 0 if result.passed else 1
