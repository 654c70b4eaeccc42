"""`merge PART... --out DIR`: join the out folders of a class's shards into one gradebook.

Each PART is the --out of `grade --submissions ROOT --shard K/N`. Exit code 0
when merged, 2 when the parts do not make one class (the message says
which shard to give or to rerun), 3 when some student could not be graded
(rerun that student's shard, then the merge). A merge interrupted and rerun
ends the same.
"""
from __future__ import annotations

import sys
from pathlib import Path

from graders.cli.usage import UsageError
from graders.sandbox import folders
HELP_PARTS = "the out folders of the shards (each graded with --shard K/N), all N of them"
HELP_OUT = "where the merged gradebook.csv and students/ go"


def add_arguments(parser) -> None:
    parser.add_argument("parts", nargs="*", type=Path, metavar="PART", help=HELP_PARTS)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help=HELP_OUT)


def run(args) -> int:
    from graders.classroom.merging import MergeError, merge

    try:
        for part in args.parts:
            if not part.is_dir():
                raise MergeError(f"no such folder: {part}")
        args.out.mkdir(parents=True, exist_ok=True)
        for folder in folders.protect_folders(args.out):
            print(f"{folder} is now private (mode 700): submissions run as other users must not read it", flush=True)
        counts = merge(args.parts, args.out, report=lambda line: print(line, flush=True))
    except MergeError as error:
        raise UsageError(str(error)) from error
    if counts["errors"]:
        print(f"{counts['errors']} students could not be graded (verdict error): rerun their shards, then merge "
              "again", file=sys.stderr)
    print(f"Gradebook: {args.out / 'gradebook.csv'}", flush=True)
    return 3 if counts["errors"] else 0
