"""`status`: every exercise with its state and last score, and overall progress."""
from __future__ import annotations

from graders.cli import state
from graders.engine import manifest
from graders.engine.report import Paint, use_colour, use_unicode

BAR = 30


def add_arguments(parser) -> None:
    pass


def rows() -> list[dict]:
    """One row per exercise: name, title, state, score, and whether the file changed since."""
    table = []
    for exercise in manifest.load().values():
        grade = state.last_grade(exercise.name)
        source = exercise.exercise_dir / exercise.stub
        row = {"name": exercise.name, "title": exercise.title, "state": "not started", "score": None,
               "changed": False}
        if grade:
            row.update(state="passing" if grade["passed"] else "failing", score=grade["score"],
                       changed=grade["source_sha256"] != state.digest(source), mode=grade["mode"])
        table.append(row)
    return table


def render(table: list[dict], colour: bool, unicode: bool) -> str:
    paint = Paint(colour, unicode)
    passing = sum(r["state"] == "passing" for r in table)
    filled = round(BAR * passing / len(table)) if table else 0
    full, empty = ("█", "░") if unicode else ("#", ".")
    lines = [f"Progress  {paint(full * filled, 'green')}{empty * (BAR - filled)}  "
             f"{passing}/{len(table)} exercises passing", ""]
    width = max((len(r["name"]) for r in table), default=4)
    for r in table:
        style = {"passing": "green", "failing": "red"}.get(r["state"], "dim")
        score = f"{r['score']:>3}/100" if r["score"] is not None else "       "
        notes = []
        if r.get("mode") == "quick" and r["state"] == "passing":
            notes.append("quick mode only: run a full grade to be sure")
        if r["changed"]:
            notes.append("edited since this score was graded")  # grades of some checks (--checks) leave no score
        note = f"  ({'; '.join(notes)})" if notes else ""
        state_text = paint(f"{r['state']:<11}", style)
        lines.append(f"  {r['name']:<{width}}  {state_text}  {score}  {r['title']}{note}")
    following = next((r for r in table if r["state"] != "passing"), None)
    if following:
        lines += ["", f"Next: nox -s grade -- {following['name']}   (stuck? nox -s hint -- {following['name']})"]
    else:
        lines += ["", "Every exercise passes. Well done."]
    return "\n".join(lines)


def run(args) -> int:
    print(render(rows(), colour=use_colour(), unicode=use_unicode()))
    return 0
