"""The checks of an exercise, read from its grader files without running them.

A check is a top-level `test_*` function decorated with `@check("title", ...)`;
`hidden=True` in that decorator makes it hidden (it is public otherwise, and
nothing else decides it). The handout uses the line ranges to leave hidden
checks out, the results formats use a public check's source as its code, and
a batch names the checks of an exercise that was never submitted.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from graders.engine.manifest import Exercise


@dataclass(frozen=True)
class CheckInfo:
    name: str  # the function's name without test_
    title: str
    hidden: bool
    path: Path
    first_line: int  # of its first decorator, 1-based
    last_line: int
    start_method: str | None = None  # the one it always runs under, or None
    every_start_method: bool = True  # False: under one of those being graded (forkserver when graded)

    def source(self) -> str:
        lines = self.path.read_text().splitlines()
        return "\n".join(lines[self.first_line - 1:self.last_line])


def checks_of(exercise: Exercise) -> list[CheckInfo]:
    """Every check of the exercise, in file order (files sorted by name)."""
    found = []
    for path in sorted(exercise.grader_dir.glob("test_*.py")):
        found += checks_in(path)
    return found


def checks_in(path: Path) -> list[CheckInfo]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.name.startswith("test_"):
            continue
        decorator = _check_decorator(node)
        if decorator is None:
            continue
        title = decorator.args[0].value if decorator.args and isinstance(decorator.args[0], ast.Constant) else node.name
        options = {k.arg: k.value.value for k in decorator.keywords if isinstance(k.value, ast.Constant)}
        hidden = options.get("hidden") is True
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        found.append(CheckInfo(name=node.name.removeprefix("test_"), title=str(title), hidden=hidden,
                               path=path, first_line=first, last_line=node.end_lineno,
                               start_method=options.get("start_method"),
                               every_start_method=options.get("every_start_method", True) is not False))
    return found


def _check_decorator(node) -> ast.Call | None:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call):
            func = decorator.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "check":
                return decorator
    return None


def without_lines(text: str, ranges: list[tuple[int, int]]) -> str:
    """`text` with the given 1-based, inclusive line ranges removed, and no run of blank lines left over."""
    drop = {n for first, last in ranges for n in range(first, last + 1)}
    kept = [line for n, line in enumerate(text.splitlines(), 1) if n not in drop]
    out: list[str] = []
    for line in kept:
        if not line.strip() and len(out) >= 2 and not out[-1].strip() and not out[-2].strip():
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n"
