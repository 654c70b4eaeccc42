"""hint, status and grade's memory, as a student uses them."""
import json
import os
import subprocess
import sys

import pytest

from graders.engine.manifest import KIT, load
from graders.engine.report import Paint


@pytest.fixture
def kit(tmp_path):
    def run(*args):
        env = dict(os.environ, KIT_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")
        return subprocess.run([sys.executable, "-m", "graders", *args], cwd=KIT, env=env,
                              capture_output=True, text=True)
    run.state = tmp_path / "state"
    return run


def test_hints_come_one_more_at_a_time_up_to_the_last(kit):
    hints = load()["lock"].hints
    for asked in range(1, len(hints) + 2):
        out = kit("hint", "lock").stdout
        shown = min(asked, len(hints))
        assert out.count("Hint ") == shown
        # its inline code in quotes, as a terminal without colour shows it
        assert any(Paint(False, unicode).code(hints[shown - 1]) in out for unicode in (True, False))
    assert "That was the last hint" in out
    assert kit("hint", "lock", "--again").stdout.count("Hint ") == len(hints)


def test_a_hint_for_an_unknown_exercise_is_a_usage_error(kit):
    done = kit("hint", "nosuch")
    assert done.returncode == 2 and "choose from" in done.stderr


def test_status_shows_each_exercise_and_the_next_step(kit):
    out = kit("status").stdout
    for name in load():
        assert name in out
    assert "0/" in out and "not started" in out
    assert "Next: nox -s grade -- lock" in out


def test_status_remembers_the_last_grade_and_notices_edits(kit):
    source = KIT / "exercises" / "lock" / "tickets.py"
    record = {"name": "lock", "passed": True, "score": 100, "checks_passed": 7, "checks": 7,
              "summary": "", "mode": "full", "source_sha256": "not the file's digest",
              "graded_at": "2026-01-01T00:00:00+00:00"}
    (kit.state / "grades").mkdir(parents=True)
    (kit.state / "grades" / "lock.json").write_text(json.dumps(record))
    out = kit("status").stdout
    line = next(l for l in out.splitlines() if l.strip().startswith("lock"))
    assert "passing" in line and "100/100" in line and "edited since this score was graded" in line
    assert source.exists()


def test_a_quick_grade_does_not_hide_the_full_grade_of_the_same_file(tmp_path, monkeypatch):
    from graders.cli import state
    from graders.engine.results import CheckResult, ExerciseResult, Run

    monkeypatch.setattr(state, "STATE", tmp_path)
    source = tmp_path / "tickets.py"
    source.write_text("first version")
    passed = ExerciseResult(name="lock", title="", checks=[CheckResult("c", "c", 1, [Run("fork", True, 0.1)])])
    state.save_grade(passed, source, "full")
    state.save_grade(passed, source, "quick")
    assert state.last_grade("lock")["mode"] == "full"
    source.write_text("an edit")
    state.save_grade(passed, source, "quick")
    assert state.last_grade("lock")["mode"] == "quick"


# ---- watch ----

def test_watch_grades_again_a_save_made_while_a_grade_ran(tmp_path):
    from graders.cli.watch import watch_loop
    source = tmp_path / "tickets.py"
    source.write_text("first")
    graded, waits = [], []

    def grade_once():
        graded.append(source.read_text())
        if len(graded) == 1:
            source.write_text("saved during the first grade")

    def wait_for_change(path, changed):
        waits.append(changed())
        if len(waits) == 1:
            source.write_text("saved while waiting")
            assert changed()
            return
        raise KeyboardInterrupt  # the student's Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        watch_loop(source, grade_once, wait_for_change)
    assert graded == ["first", "saved during the first grade", "saved while waiting"]
    assert waits == [False, False]  # it waited only when the file was the one graded


def test_watch_does_not_grade_again_a_file_saved_unchanged(tmp_path):
    from graders.cli.watch import watch_loop
    source = tmp_path / "tickets.py"
    source.write_text("same")
    graded = []

    def wait_for_change(path, changed):
        source.write_text("same")  # saved again, nothing changed
        assert not changed()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        watch_loop(source, lambda: graded.append(source.read_text()), wait_for_change)
    assert graded == ["same"]
