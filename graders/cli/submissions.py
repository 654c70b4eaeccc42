"""`grade --submissions ROOT`: grade every student's folder under ROOT into a gradebook.

Reached through the `grade` command (its batch options are added here). Exit
code 0 when every student was graded (whatever their grades), 3 when the
graders could not run for some student (rerun to retry them), 130 when
interrupted: every student already graded stays written, and a rerun goes on
from there.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from graders.classroom import formats

from graders.sandbox import folders
SHARD_FILE = "shard.json"  # classroom/batch.py's, not imported from there: `grade` of one student never needs it

HELP_SUBMISSIONS = ("batch: grade every student folder under ROOT (each laid out like exercises/, or holding "
                    "the stub files) into a gradebook; a rerun skips students already graded")
HELP_OUT = "batch: where the gradebook and each student's results go (default: ROOT-grades beside ROOT)"
HELP_JOBS = "batch: students graded at once (default: the number of cores)"
HELP_SHARD = ("batch: grade only shard K of N of the class (split by a hash of each student folder's name), "
              "for `merge` to join; e.g. --shard 2/4")
HELP_FORMATS = f"batch: results files per student besides results.json (default: {','.join(formats.FORMATS)}; none: -)"


def add_arguments(parser) -> None:
    parser.add_argument("--submissions", type=Path, metavar="ROOT", help=HELP_SUBMISSIONS)
    parser.add_argument("--out", type=Path, metavar="DIR", help=HELP_OUT)
    parser.add_argument("--jobs", type=int, metavar="N", help=HELP_JOBS)
    parser.add_argument("--formats", default=",".join(formats.FORMATS), metavar="LIST", help=HELP_FORMATS)
    parser.add_argument("--shard", metavar="K/N", help=HELP_SHARD)


def choose_shard(text: str | None, usage_error) -> tuple[int, int] | None:
    if text is None:
        return None
    k, _, n = text.partition("/")
    try:
        shard = int(k), int(n)
    except ValueError:
        shard = None
    if shard is None or not 1 <= shard[0] <= shard[1]:
        raise usage_error(f"--shard takes K/N, shard K of N with 1 <= K <= N (e.g. --shard 2/4), not {text!r}")
    return shard


def shard_of(out: Path) -> tuple[int, int] | None:
    """The shard an out folder already holds, if any."""
    try:
        return tuple(json.loads((out / SHARD_FILE).read_text())["shard"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def choose_formats(text: str, usage_error) -> tuple[str, ...]:
    names = [n.strip() for n in text.split(",") if n.strip() and n.strip() != "-"]
    wrong = [n for n in names if n not in formats.FORMATS]
    if wrong:
        raise usage_error(f"unknown format {', '.join(map(repr, wrong))}; choose from: {', '.join(formats.FORMATS)}")
    return tuple(dict.fromkeys(names))


def run(args, exercises, methods, checks, usage_error) -> int:
    from graders.classroom.batch import Batch  # here, not above: `grade` of one student never needs it

    root = args.submissions
    if not root.is_dir():
        raise usage_error(f"no such folder of submissions: {root}")
    out = args.out or root.resolve().with_name(root.resolve().name + "-grades")
    if out.resolve().is_relative_to(root.resolve()):
        raise usage_error("--out must not be inside the folder of submissions")
    if args.jobs is not None and args.jobs < 1:
        raise usage_error("--jobs must be 1 or more")
    shard = choose_shard(args.shard, usage_error)
    if (out / SHARD_FILE).exists():
        held = shard_of(out)
    else:  # a whole class's grades, or nothing yet
        held = None if any((out / "students").glob("[!.]*")) else shard
    if held != shard:
        what = f"shard {held[0]}/{held[1]} of a class" if held else "a whole class's grades"
        raise usage_error(f"{out} holds {what}: give each shard, and the whole class, an --out of its own")
    out.mkdir(parents=True, exist_ok=True)
    # No submission may read another's, nor the grades: only each student's stub is copied where it runs.
    for folder in folders.protect_folders(root, out):
        print(f"{folder} is now private (mode 700): submissions run as other users must not read it", flush=True)
    batch = Batch(root=root, out=out, exercises=exercises, methods=methods, quick=args.quick,
                  checks=tuple(checks), jobs=args.jobs or os.cpu_count() or 1,
                  formats=choose_formats(args.formats, usage_error), shard=shard,
                  report=lambda line: print(line, flush=True))
    part = f" (shard {shard[0]}/{shard[1]} of {len(batch.everyone())})" if shard else ""
    print(f"Grading {len(batch.students())} students{part} in {root} ({', '.join(e.name for e in exercises)} under "
          f"{', '.join(methods)}{', quick mode' if args.quick else ''}), {batch.jobs} at a time, into {out} ...",
          flush=True)
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        counts = batch.run()
    except KeyboardInterrupt:
        print("interrupted: the students graded so far are kept; rerun to go on", file=sys.stderr, flush=True)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    errors = f", {counts['errors']} could not be graded (rerun to retry them)" if counts["errors"] else ""
    print(f"Done in {time.monotonic() - started:.0f} s: {counts['graded']} graded, {counts['skipped']} skipped"
          f"{errors}. Gradebook: {out / 'gradebook.csv'}", flush=True)
    return 3 if counts["errors"] else 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt
