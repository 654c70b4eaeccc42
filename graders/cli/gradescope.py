"""`gradescope`: grade a Gradescope submission and write its results.json (run by run_autograder).

The stub files may be anywhere in the submission (NAME/STUB, exercises/NAME/STUB,
or STUB); an exercise without one gets a failing grade that says what to hand
in. The report goes to stdout, which Gradescope shows to instructors only.
Exit code 0 whenever results.json was written, even for a failing grade.
"""
from __future__ import annotations

import json
from pathlib import Path

from graders.classroom import formats
from graders.classroom.batch import grade_folder
from graders.engine.files import write_whole
from graders.engine.grading import GraderError
from graders.engine.report import render

HELP_EXERCISES = "exercises of the assignment (default: all of them)"
HELP_SUBMISSION = "the submission folder (default: /autograder/submission)"
HELP_RESULTS = "where to write Gradescope's results.json (default: /autograder/results/results.json)"
HELP_METHODS = "comma-separated start methods (default: fork,spawn,forkserver)"


def add_arguments(parser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help=HELP_EXERCISES)
    parser.add_argument("--submission", type=Path, default=Path("/autograder/submission"), help=HELP_SUBMISSION)
    parser.add_argument("--results", type=Path, default=Path("/autograder/results/results.json"), help=HELP_RESULTS)
    parser.add_argument("--methods", help=HELP_METHODS)


def run(args) -> int:
    from graders.cli.grade import choose_exercises, choose_methods
    from graders.cli.usage import UsageError

    exercises = choose_exercises(args.exercises)
    methods = choose_methods(args.methods, quick=False)
    if not args.submission.is_dir():
        raise UsageError(f"no such submission folder: {args.submission}")
    try:
        result = grade_folder(args.submission, exercises, methods=methods)
    except GraderError as error:
        print(f"error: {error}")
        write_whole(args.results, json.dumps({
            "score": 0.0, "execution_time": 0, "tests": [],
            "output": "The autograder could not run your submission. This is not your fault: "
                      "please tell your instructor."}, indent=2))
        return 3
    write_whole(args.results, formats.gradescope(result))
    print(render(result, colour=False, unicode=True))
    return 0
