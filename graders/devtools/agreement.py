"""`python -m graders.devtools.agreement [--fix]`: do the folders, the manifest, the checks and the statements agree?

An exercise lives in four places (exercises.toml, exercises/NAME/,
solutions/NAME/, graders/NAME/). This lists every way they disagree: a folder
without a manifest entry or the other way round, a stub or entry function
missing, a check without a weight or a weight without a check, a title, hint
or deadline missing, a statement whose table of checks is not the one the
checks make, a bank without a wrong variant, and text a scaffold left to
write (`WRITE ME`). `--fix` rewrites the statements' tables; the rest is for
a person to write. Exit code 0 when all agree, 1 otherwise, 2 on bad usage.
`nox -s verify` runs it (tests/exercises/test_agreement.py).
"""
from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from pathlib import Path

from graders.devtools import statements
from graders.engine import catalog, manifest
from graders.engine.manifest import KIT, Exercise

# graders/'s folders that are the kit's machinery, not exercises.
MACHINERY = {"engine", "child", "sandbox", "cli", "classroom", "devtools"}
LEFT_TO_WRITE = "WRITE ME"


def problems(root: Path = KIT) -> list[str]:
    """Every disagreement in the kit at `root`, one sentence each; [] when all agree."""
    try:
        exercises = manifest.load(root / "exercises.toml")
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        return [f"exercises.toml cannot be read: {error}"]
    found = _stray_folders(root, exercises)
    for exercise in exercises.values():
        found += _exercise_problems(exercise)
    found += _readme_problems(root, exercises)
    return found


def readme_row(line: str) -> str | None:
    """The exercise a row of README.md's table of exercises is for: "| `lock` | ... |" gives lock."""
    if line.startswith("| `") and "` |" in line:
        return line[3:line.index("` |")]
    return None


def _readme_problems(root: Path, exercises: dict[str, Exercise]) -> list[str]:
    readme = root / "README.md"
    if not readme.is_file():
        return []
    rows = {readme_row(line): line for line in readme.read_text().splitlines() if readme_row(line)}
    found = [f"README.md's table of exercises has no row for {name}" for name in exercises if name not in rows]
    found += [f"README.md's row for {name} is left to write" for name in exercises
              if LEFT_TO_WRITE in rows.get(name, "")]
    return found


def fix(root: Path = KIT) -> list[Path]:
    """Rewrite each statement's table of checks from the checks and the manifest; the files changed."""
    changed = []
    for exercise in manifest.load(root / "exercises.toml").values():
        path = exercise.exercise_dir / "README.md"
        if not path.is_file():
            continue
        text = path.read_text()
        made = statements.with_table(text, exercise)
        if made is not None and made != text:
            path.write_text(made)
            changed.append(path)
    return changed


def _stray_folders(root: Path, exercises: dict[str, Exercise]) -> list[str]:
    found = []
    for top in ("exercises", "solutions", "graders"):
        folder = root / top
        if not folder.is_dir():
            found.append(f"{top}/ is missing")
            continue
        for entry in sorted(folder.iterdir()):
            if not entry.is_dir() or entry.name.startswith((".", "_")) or entry.name in exercises:
                continue
            if top == "graders" and entry.name in MACHINERY:
                continue
            found.append(f"{top}/{entry.name}/ has no entry in exercises.toml")
    return found


def _exercise_problems(exercise: Exercise) -> list[str]:
    name, found = exercise.name, []
    stub = exercise.exercise_dir / exercise.stub
    solution = exercise.solution_dir / exercise.stub
    for path in (stub, solution):
        if not path.is_file():
            found.append(f"{_rel(path, exercise)} is missing")
        elif exercise.entry not in _top_level_functions(path):
            found.append(f"{_rel(path, exercise)} defines no {exercise.entry}(), the manifest's entry")
    if stub.is_file() and solution.is_file() and stub.read_text() == solution.read_text():
        found.append(f"solutions/{name}/{exercise.stub} is the stub itself: write the fix")
    if not exercise.title.strip():
        found.append(f"[{name}] has no title")
    if not exercise.hints:
        found.append(f"[{name}] has no hints")
    if exercise.deadline <= 0:
        found.append(f"[{name}] deadline must be a number of seconds > 0")
    grader = exercise.grader_dir
    if not (grader / "probe.py").is_file():
        found.append(f"graders/{name}/probe.py is missing")
    checks = catalog.checks_of(exercise) if grader.is_dir() else []
    if not checks:
        found.append(f"graders/{name}/ has no check (a test_*.py with @check functions)")
    names = [c.name for c in checks]
    for check in names:
        if check not in exercise.checks:
            found.append(f"check {check} of graders/{name}/ has no weight in [{name}.checks]")
    for check, weight in exercise.checks.items():
        if check not in names:
            found.append(f"[{name}.checks] weighs {check}, which graders/{name}/ does not have")
        elif type(weight) is not int or weight < 1:
            found.append(f"[{name}.checks] {check} must weigh a whole number >= 1, not {weight!r}")
    titles = [c.title for c in checks]
    found += [f"two checks of {name} are titled {t!r}: the report could not tell them apart"
              for t in sorted({t for t in titles if titles.count(t) > 1})]
    found += _statement_problems(exercise)
    found += _bank_problems(exercise, set(names))
    for folder in (exercise.exercise_dir, exercise.solution_dir, grader):
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if path.suffix in (".py", ".md", ".toml") and path.is_file():
                for number, line in enumerate(path.read_text().splitlines(), 1):
                    if LEFT_TO_WRITE in line:
                        found.append(f"{_rel(path, exercise)}:{number} is left to write: {line.strip()[:80]}")
    for number, hint in enumerate(exercise.hints, 1):
        if LEFT_TO_WRITE in hint:
            found.append(f"[{name}] hint {number} is left to write")
    if LEFT_TO_WRITE in exercise.title:
        found.append(f"[{name}] title is left to write")
    return found


def _statement_problems(exercise: Exercise) -> list[str]:
    path = exercise.exercise_dir / "README.md"
    where = f"exercises/{exercise.name}/README.md"
    if not path.is_file():
        return [f"{where} (the statement) is missing"]
    text = path.read_text()
    made = statements.with_table(text, exercise)
    if made is None:
        return [f"{where} has no table of checks between {statements.BEGIN} and {statements.END}"]
    if made != text:
        return [f"{where}'s table of checks is not the one its checks and weights make: "
                "run `python -m graders.devtools.agreement --fix`"]
    return []


def _bank_problems(exercise: Exercise, checks: set[str]) -> list[str]:
    path = exercise.grader_dir / "bank.toml"
    where = f"graders/{exercise.name}/bank.toml"
    if not path.is_file():
        return [f"{where} (the bank of variants) is missing"]
    try:
        with open(path, "rb") as f:
            variants = tomllib.load(f)
    except tomllib.TOMLDecodeError as error:
        return [f"{where} is not valid TOML: {error}"]
    expects = [v.get("expect") for v in variants.values() if isinstance(v, dict)]
    found = [f"{where}: variant {n} expects {v.get('expect')!r}, which is neither 'pass' nor a check"
             for n, v in variants.items() if isinstance(v, dict) and v.get("expect") not in checks | {"pass"}]
    if not any(e in checks for e in expects):
        found.append(f"{where} has no wrong variant: write the mistakes a student makes, each with the check "
                     "that must catch it")
    return found


def _top_level_functions(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (SyntaxError, ValueError):
        return set()
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _rel(path: Path, exercise: Exercise) -> str:
    return path.relative_to(exercise.root).as_posix()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graders.devtools.agreement", description=__doc__.splitlines()[0])
    parser.add_argument("--fix", action="store_true", help="rewrite the statements' tables of checks first")
    options = parser.parse_args(argv)
    if options.fix:
        for path in fix():
            print(f"rewrote the table of checks in {path.relative_to(KIT)}")
    found = problems()
    for problem in found:
        print(problem)
    if not found:
        print(f"{len(manifest.load())} exercises: folders, manifest, checks, weights, hints and statements agree.")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
