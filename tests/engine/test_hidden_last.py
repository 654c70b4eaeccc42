"""A hidden check's hangs never cost a public check its run.

Each grading process skips an exercise's remaining runs after a few hangs
(checks.TimeBudget). A public check skipped because a hidden one hung would
tell the student, before the due date, of a hang in a check they cannot see,
and take its points for it: so each process runs its public checks first.
"""
import subprocess
import sys

import pytest

from graders.engine import catalog, manifest
from graders.engine.grading import PROCESSES
from graders.engine.manifest import KIT
from graders.engine.settings import START_METHODS, Settings

WITH_HIDDEN = [name for name, e in manifest.load().items() if any(c.hidden for c in catalog.checks_of(e))]


def runs_of_part(exercise: str, part: int, quick: bool, folder) -> list[str]:
    """The checks one grading process runs, in its order, as the grader collects them."""
    settings = folder / f"settings-{part}.json"
    Settings(stage="/nonexistent", results=str(folder / f"results-{part}.json"), part=part, parts=PROCESSES,
             quick=quick, methods=("forkserver",) if quick else START_METHODS).write(settings)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", f"graders/{exercise}", "-c", "graders/pytest.ini", "--rootdir", str(KIT),
         "-p", "graders.engine.plugin", "-p", "no:cacheprovider", "-o", "addopts=", "-q", "--collect-only",
         "--kit-settings", str(settings)],
        cwd=KIT, capture_output=True, text=True)
    assert done.returncode in (0, 5), done.stdout + done.stderr
    return [line.split("::")[1].split("[")[0].removeprefix("test_") for line in done.stdout.splitlines()
            if "::" in line]


@pytest.mark.parametrize("quick", [False, True], ids=["full", "quick"])
@pytest.mark.parametrize("exercise", WITH_HIDDEN)
def test_each_grading_process_runs_every_public_check_before_any_hidden_one(exercise, quick, tmp_path):
    hidden = {c.name for c in catalog.checks_of(manifest.load()[exercise]) if c.hidden}
    seen = []
    for part in range(PROCESSES):
        order = runs_of_part(exercise, part, quick, tmp_path)
        seen += order
        first_hidden = next((n for n, name in enumerate(order) if name in hidden), len(order))
        assert not set(order[first_hidden:]) - hidden, f"process {part}: {order}"
    assert hidden <= set(seen)  # the hidden checks are graded, after the public ones
