"""`nox -s new -- NAME`: scaffold an exercise in every place it lives.

Writes the stub and its statement (exercises/NAME/), the solution
(solutions/NAME/), the checks, the probe and the bank (graders/NAME/), the
manifest entry (exercises.toml) and a row of README.md's table of exercises. The scaffold runs and fails honestly:
its one check says it is not written yet, the solution is the stub, the bank
has no mistake in it, and every text left to write says WRITE ME, so
`nox -s verify` (or `python -m graders.devtools.agreement`) lists what is
left. graders/README.md walks through filling it in.
"""
from __future__ import annotations

import argparse
import keyword
import re
import sys
from pathlib import Path

from graders.cli.usage import UsageError
from graders.devtools import agreement, statements
from graders.devtools.agreement import LEFT_TO_WRITE
from graders.engine import manifest
from graders.engine.manifest import KIT

NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")

STUB = '''"""{name}: WRITE ME: the lesson's story in a sentence or two.

Goal: WRITE ME: what the student must make true.

Run it by hand with `python exercises/{name}/{name}.py 3` (workers).
Do not change the names, the signature of run(), or the pause() calls: the
grader relies on them.
"""
import multiprocessing
import sys
import time


def slow_step(stage):
    """The default pause: a short wait, so a run by hand shows the lesson."""
    time.sleep(0.05)


def worker(i, pause):
    pause("work")
    print(f"worker {{i}} done")


def run(workers, pause=slow_step):
    """Start one process per worker and wait for them all; return how many ran."""
    if type(workers) is not int or workers < 0:
        raise ValueError(f"workers must be a whole number >= 0, not {{workers!r}}")
    # TODO: WRITE ME: the lesson's program, with the mistake the student fixes.
    processes = [multiprocessing.Process(target=worker, args=(i, pause)) for i in range(workers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    return workers


if __name__ == "__main__":
    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
'''

PROBE = '''"""Runs in the child process, next to the student's {stub}: what each check calls."""


def run(student, pause, workers):
    """The student's run(workers) with the grader's pause; what it returns travels back as JSON."""
    return student.run(workers, pause=pause)
'''

CHECKS = '''"""Checks for `{name}`: WRITE ME: what the grader makes happen, and how it sees it."""
from graders.engine.checks import CheckFailure, check

RUN = "graders.{name}.probe:run"


@check("WRITE ME: the first check, named as the student should read it")
def test_first_check(student):
    outcome = student.run(RUN, workers=2)
    returned = student.finished(outcome, "run(2)")
    # outcome.trace says who called pause() when (graders/README.md); judge it here.
    raise CheckFailure("this check is not written yet", expected="WRITE ME", got=repr(returned),
                       hint="Write it in graders/{name}/test_{name}.py.")
'''

BANK = '''# Variants of solutions/{name}/{stub}: see graders/devtools/bank.py for the format.
# WRITE ME: a wrong variant for every mistake a student makes, each with the check that
# must catch it and the words that name it, and correct ones spelled differently.
#
# [some_mistake]
# about = "what the program does"
# expect = "first_check"
# message = ["the words the report must say"]
# not_message = ["a wrong diagnosis it must not give"]
# [[some_mistake.edit]]
# old = "a line of the solution"
# new = "what the student wrote instead"
'''

STATEMENT = '''# {title}

WRITE ME: the story, what the program does today, and what goes wrong.

## What to change
WRITE ME: the goal, in terms the checks below judge.

Do not touch: the names, `run(workers, pause=slow_step)` and the
`pause("work")` call: the grader passes its own `pause`.

## How it is graded
{table}

Every check runs under fork, spawn and forkserver unless marked.

## Run it
```
nox -s grade -- {name}              # every check, every start method
nox -s grade -- {name} --quick      # faster: fewer cases, forkserver
nox -s hint -- {name}               # the next hint
python exercises/{name}/{stub} 3    # by hand
```
'''

MANIFEST_ENTRY = '''
[{name}]
title = "{title}"
stub = "{stub}"
entry = "run"
deadline = 10
hints = [
    "WRITE ME: the first hint: what to look at.",
]

[{name}.checks]
first_check = 1
'''


def scaffold(name: str, root: Path = KIT) -> list[Path]:
    """Write the new exercise's files and manifest entry under `root`; the files written or changed."""
    if not NAME.fullmatch(name) or keyword.iskeyword(name):
        raise UsageError(f"{name!r} is not a name for an exercise: lower-case letters, digits and _, "
                         "starting with a letter (it becomes a Python module's name)")
    if name in agreement.MACHINERY:
        raise UsageError(f"{name!r} is the name of one of graders/'s own folders: choose another")
    exercises = manifest.load(root / "exercises.toml")
    taken = [p for p in (root / "exercises" / name, root / "solutions" / name, root / "graders" / name) if p.exists()]
    if name in exercises or taken:
        raise UsageError(f"an exercise {name!r} exists already"
                         + (f" ({', '.join(p.relative_to(root).as_posix() for p in taken)})" if taken else ""))
    stub, title = f"{name}.py", f"WRITE ME: the title of {name}"
    fields = {"name": name, "stub": stub, "title": title}
    files = {
        root / "exercises" / name / stub: STUB.format(**fields),
        root / "solutions" / name / stub: STUB.format(**fields),
        root / "graders" / name / "__init__.py": "",
        root / "graders" / name / "probe.py": PROBE.format(**fields),
        root / "graders" / name / f"test_{name}.py": CHECKS.format(**fields),
        root / "graders" / name / "bank.toml": BANK.format(**fields),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    manifest_path = root / "exercises.toml"
    manifest_path.write_text(manifest_path.read_text().rstrip("\n") + "\n" + MANIFEST_ENTRY.format(**fields))
    readme = root / "README.md"
    if readme.is_file():
        _add_readme_row(readme, f"| `{name}` | {LEFT_TO_WRITE}: what the student writes | `exercises/{name}/{stub}` |")
    exercise = manifest.load(manifest_path)[name]
    statement = root / "exercises" / name / "README.md"
    table = "\n".join([statements.BEGIN, *statements.table(exercise), statements.END])
    statement.write_text(STATEMENT.format(table=table, **fields))
    return [*files, statement, manifest_path, *([readme] if readme.is_file() else [])]


def _add_readme_row(readme: Path, row: str) -> None:
    """After the last row of README.md's table of exercises."""
    lines = readme.read_text().splitlines()
    last = max((n for n, line in enumerate(lines) if agreement.readme_row(line)), default=None)
    if last is None:
        return
    lines.insert(last + 1, row)
    readme.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="nox -s new --", description=__doc__.splitlines()[0].split(": ", 1)[1])
    parser.add_argument("name", help="the exercise's name: lower-case letters, digits and _ (e.g. ktv)")
    options = parser.parse_args(argv)
    try:
        written = scaffold(options.name)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Scaffolded {options.name}:")
    for path in written:
        print(f"  {path.relative_to(KIT)}")
    print("\nWhat is left to write (`nox -s verify` checks it all):")
    for problem in agreement.problems():
        print(f"  {problem}")
    print("\ngraders/README.md, \"Adding an exercise\", walks through it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
