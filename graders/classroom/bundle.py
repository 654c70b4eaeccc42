"""What leaves the kit: the student handout and the Gradescope autograder.

Both are copies of the kit without solutions/, tests/, CI files or state.

- The handout (`dist/handout/`, `dist/handout.zip`) has the exercises and
  their statements, the public checks only (a hidden check's code is cut out
  of its file, its weight out of the manifest, and its row out of the
  exercise's README), the engine, the student's
  nox sessions, the student's README (templates/handout/README.md) and the
  pictures it shows, and a GitHub Classroom workflow that grades every push.
- The autograder (`dist/autograder.zip`) has every check, hidden ones too,
  with Gradescope's setup.sh and run_autograder at the top of the zip; it
  grades /autograder/submission into /autograder/results/results.json.

Both install the grading dependencies from the kit's requirements.lock.

Zips are reproducible: sorted entries, fixed dates, modes kept.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import tomllib
import zipfile
from pathlib import Path

from graders.engine import catalog, manifest
from graders.engine.manifest import KIT, Exercise

DIST = KIT / "dist"
TEMPLATES = KIT / "templates"
STUDENT_SESSIONS = ("grade", "hint", "status", "watch")
LOCK = "requirements.lock"  # the pinned grading dependencies, with hashes
SKIP_NAMES = {"__pycache__", ".pytest_cache", ".hypothesis"}
# In graders/: the authoring guide and the authors' tools (bench, pictures, the bank loader).
INSTRUCTOR_ONLY = {"README.md", "devtools"}
# In an exercise's folder: its bank of variants (known mistakes, and the checks that catch them).
EXERCISE_PRIVATE = {"bank.toml"}
_SECTION = re.compile(r"^\[([A-Za-z0-9_.-]+)\]\s*(#.*)?$")


def _copy_tree(source: Path, target: Path, leave_out=()) -> None:
    shutil.copytree(source, target, symlinks=False,
                    ignore=lambda folder, names: [n for n in names
                                                  if n in SKIP_NAMES or n in leave_out or n.endswith(".pyc")])


def _graders(target: Path, exercises: list[Exercise], public_only: bool) -> None:
    """graders/: the engine and commands, and the checks of the chosen exercises."""
    source = KIT / "graders"
    target.mkdir(parents=True)
    for entry in sorted(source.iterdir()):
        if entry.name in SKIP_NAMES or entry.name in INSTRUCTOR_ONLY:
            continue
        if entry.is_dir():
            if entry.name in manifest.load() and entry.name not in {e.name for e in exercises}:
                continue  # another exercise's checks
            _copy_tree(entry, target / entry.name, leave_out=EXERCISE_PRIVATE if entry.name in manifest.load() else ())
        elif entry.suffix in (".py", ".ini"):
            shutil.copy2(entry, target / entry.name)
    if public_only:
        for exercise in exercises:
            strip_hidden(exercise, target / exercise.name)


def strip_hidden(exercise: Exercise, folder: Path) -> list[str]:
    """Cut every hidden check's code out of the copies of its grader files; the names cut."""
    cut = []
    for path in sorted(folder.glob("test_*.py")):
        hidden = [c for c in catalog.checks_in(path) if c.hidden]
        if hidden:
            path.write_text(catalog.without_lines(path.read_text(), [(c.first_line, c.last_line) for c in hidden]))
            cut += [c.name for c in hidden]
    return cut


def manifest_text(exercises: list[Exercise], public_only: bool) -> str:
    """exercises.toml with the chosen exercises only, and (for the handout) no hidden check's weight."""
    hidden = {(e.name, c.name) for e in exercises for c in catalog.checks_of(e) if c.hidden} if public_only else set()
    names = {e.name for e in exercises}
    out, section = [], None
    for line in (KIT / "exercises.toml").read_text().splitlines():
        match = _SECTION.match(line)
        if match:
            section = match[1]
        if section is not None and section.split(".")[0] not in names:
            continue
        if section and section.endswith(".checks") and "=" in line and not line.lstrip().startswith("#"):
            if (section.split(".")[0], line.split("=")[0].strip()) in hidden:
                continue
        out.append(line)
    text = "\n".join(out).rstrip("\n") + "\n"
    tomllib.loads(text)  # still a valid manifest
    return text


def exercise_readme_text(exercise: Exercise) -> str:
    """An exercise's README without the rows of its hidden checks (a row names its check's ID in backquotes)."""
    text = (exercise.exercise_dir / "README.md").read_text()
    hidden = [c.name for c in catalog.checks_of(exercise) if c.hidden]
    kept = [line for line in text.splitlines(keepends=True)
            if not (line.startswith("|") and any(f"`{name}`" in line for name in hidden))]
    return "".join(kept)


def readme_text(exercises: list[Exercise]) -> str:
    """The student's README: templates/handout/README.md with a row per exercise handed out."""
    rows = [f"| `{e.name}` | {e.title[:1].lower() + e.title[1:]} | `exercises/{e.name}/{e.stub}` |" for e in exercises]
    return (TEMPLATES / "handout" / "README.md").read_text().replace("@EXERCISES@", "\n".join(rows))


def pictures_of(readme: str) -> list[str]:
    """The kit's files a README shows: its links into docs/."""
    return sorted(set(re.findall(r"\]\((docs/[^)\s]+)\)", readme)))


def pyproject_text() -> str:
    """pyproject.toml for students: the project and the grading groups, no test group or pytest settings."""
    data = tomllib.loads((KIT / "pyproject.toml").read_text())
    project = data["project"]
    lines = ["[project]"] + [f"{key} = {_toml(project[key])}" for key in project if key != "readme"]
    lines += ["", "[dependency-groups]",
              "# Installed from requirements.lock (pinned, with hashes), which nox -s grade uses."]
    lines += [f"{name} = {_toml(data['dependency-groups'][name])}" for name in ("grade", "watch")]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)  # still valid
    return text


def _toml(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def noxfile_text() -> str:
    """noxfile.py with the student's sessions only (no self-check, tests or builds: they need tests/)."""
    text = (KIT / "noxfile.py").read_text()
    tree = ast.parse(text)
    ranges = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name not in STUDENT_SESSIONS and _is_session(node):
            ranges.append((min([node.lineno, *(d.lineno for d in node.decorator_list)]), node.end_lineno))
    return catalog.without_lines(text, ranges)


def _is_session(node: ast.FunctionDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr == "session":
            return True
    return False


def build_handout(exercises: list[Exercise], out: Path = DIST) -> tuple[Path, Path]:
    folder = _fresh(out / "handout")
    _graders(folder / "graders", exercises, public_only=True)
    for exercise in exercises:
        _copy_tree(exercise.exercise_dir, folder / "exercises" / exercise.name)
        if (exercise.exercise_dir / "README.md").is_file():
            (folder / "exercises" / exercise.name / "README.md").write_text(exercise_readme_text(exercise))
    (folder / "exercises.toml").write_text(manifest_text(exercises, public_only=True))
    readme = readme_text(exercises)
    (folder / "README.md").write_text(readme)
    for picture in pictures_of(readme):
        (folder / picture).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(KIT / picture, folder / picture)
    (folder / "noxfile.py").write_text(noxfile_text())
    (folder / "pyproject.toml").write_text(pyproject_text())
    shutil.copy2(KIT / LOCK, folder / LOCK)
    (folder / ".gitignore").write_text((KIT / ".gitignore").read_text())
    workflow = folder / ".github" / "workflows" / "grade.yml"
    workflow.parent.mkdir(parents=True)
    shutil.copy2(TEMPLATES / "classroom" / "grade.yml", workflow)
    return folder, _zip(folder, out / "handout.zip")


def build_autograder(exercises: list[Exercise], out: Path = DIST) -> tuple[Path, Path]:
    folder = _fresh(out / "autograder")
    _graders(folder / "graders", exercises, public_only=False)
    for exercise in exercises:
        _copy_tree(exercise.exercise_dir, folder / "exercises" / exercise.name)
    (folder / "exercises.toml").write_text(manifest_text(exercises, public_only=False))
    shutil.copy2(KIT / "pyproject.toml", folder / "pyproject.toml")
    shutil.copy2(KIT / LOCK, folder / LOCK)
    names = " ".join(e.name for e in exercises)
    for script in ("setup.sh", "run_autograder"):
        text = (TEMPLATES / "gradescope" / script).read_text().replace("@EXERCISES@", names)
        (folder / script).write_text(text)
        (folder / script).chmod(0o755)
    return folder, _zip(folder, out / "autograder.zip")


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def _zip(folder: Path, path: Path) -> Path:
    """A zip of the folder's contents (not the folder itself), the same bytes for the same files."""
    partial = path.with_name(path.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(file.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if file.stat().st_mode & 0o111 else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())
    partial.replace(path)
    return path
