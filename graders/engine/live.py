"""Each check's verdict as soon as it is decided, from the progress lines of a grading's processes.

Every grading process first writes how many runs of each check it has (engine/plugin.py),
then one line per finished run. A check's verdict is known once its last run,
in whichever process, has ended: it passed if every run passed. The report that
follows the grading stays the whole truth (a run made first, that the usual
order would not have started, is told there as not run: engine/checks.py's
TimeBudget); these lines only come sooner.
"""
from __future__ import annotations

from graders.engine.report import Paint


class LiveVerdicts:
    """`(process, line)` in, one `show(text)` per decided check out, in the order they were decided."""

    def __init__(self, processes: int, show, *, colour=False, unicode=True, exercises=1):
        self.processes = processes
        self.show = show
        self.paint = Paint(colour, unicode)
        self.named = exercises > 1  # the exercise's name before each check's only when there are several
        self.expected: dict[str, int] = {}
        self.totals = set()
        self.runs: dict[str, list[dict]] = {}
        self.told: list[str] = []
        self.failed: list[str] = []  # check names, in the order they were told

    def __call__(self, process: int, line: dict) -> None:
        if "checks" in line:
            self.totals.add(process)
            for key, count in line["checks"].items():
                self.expected[key] = self.expected.get(key, 0) + count
        elif "check" in line:
            self.runs.setdefault(f"{line['exercise']}/{line['check']}", []).append(line)
        if len(self.totals) < self.processes:
            return  # another process may still have runs of a check that looks finished here
        for key, runs in self.runs.items():
            if key not in self.told and len(runs) >= self.expected.get(key, 0):
                self.told.append(key)
                self._tell(key, runs)

    def _tell(self, key: str, runs: list[dict]) -> None:
        exercise, check = key.split("/", 1)
        failed = [r["start_method"] for r in runs if not r["passed"]]
        title = self.paint.code(runs[0]["title"])
        name = f"{exercise}: " if self.named else ""
        if failed:
            self.failed.append(check)
            where = f" (under {', '.join(dict.fromkeys(m for m in failed if m))})" if any(failed) else ""
            self.show(f"  {self.paint(self.paint.no, 'red', 'bold')} {name}{title}{where}")
        else:
            self.show(f"  {self.paint(self.paint.ok, 'green')} {name}{title}")
