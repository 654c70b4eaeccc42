"""The house's rules, read from the imports: the child's side imports nothing of the grading side, the
engine names no exercise and never imports the command line or the classroom tools, and no exercise
imports another."""
import ast

import pytest

from graders.engine import manifest
from graders.engine.manifest import KIT

# What each folder of graders/ may import from the kit (itself always).
ALLOWED = {
    "child": set(),
    "sandbox": set(),
    "engine": {"child", "sandbox"},
    "classroom": {"engine", "sandbox"},
    "cli": {"engine", "sandbox", "classroom"},
    "devtools": {"engine", "sandbox", "classroom", "cli", "child"},
}
EXERCISE_MAY_IMPORT = {"engine", "child", "sandbox"}  # sandbox: untrusted reads of what a run wrote


def kit_imports(path) -> set[str]:
    """The graders.X packages a module imports (X), wherever in the module the import is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        for name in names:
            parts = name.split(".")
            if parts[0] == "graders" and len(parts) > 1:
                found.add(parts[1])
    return found


def modules_of(folder):
    return sorted(p for p in (KIT / "graders" / folder).rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_a_machinery_folder_imports_only_what_lies_below_it(folder):
    exercises = set(manifest.load())
    wrong = {}
    for path in modules_of(folder):
        bad = kit_imports(path) - ALLOWED[folder] - {folder} - (exercises if folder == "devtools" else set())
        if bad:
            wrong[path.relative_to(KIT).as_posix()] = sorted(bad)
    assert wrong == {}


@pytest.mark.parametrize("name", sorted(manifest.load()))
def test_an_exercise_imports_the_machinery_and_no_other_exercise(name):
    wrong = {p.name: sorted(kit_imports(p) - EXERCISE_MAY_IMPORT - {name}) for p in modules_of(name)}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_rules_see_imports_inside_functions_too(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from graders.cli import grade\n    import graders.engine.run\n")
    assert kit_imports(module) == {"cli", "engine"}
