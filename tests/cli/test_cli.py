"""The command line: usage errors exit 2 with a message that helps; nothing is written."""
import subprocess
import sys

import pytest

from graders.engine.manifest import KIT


def kit(*args):
    return subprocess.run([sys.executable, "-m", "graders", *args], cwd=KIT, capture_output=True, text=True)


def test_an_unknown_exercise_lists_the_valid_names():
    done = kit("grade", "nosuch")
    assert done.returncode == 2
    assert "unknown exercise 'nosuch'" in done.stderr and "lock" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["grade", "lock", "--methods", "thread"], "unknown start method 'thread'"),
    (["grade", "lock", "--submission", "no/such/folder"], "no such submission"),
    (["grade", "--submission", "solutions/lock/tickets.py"], "a single file can be graded for one exercise only"),
    (["grade", "lock", "--submission", "tests"], "the submission has no"),
    (["grade", "--bogus"], "unknown option --bogus; `nox -s grade -- --help` lists the options"),
    (["grade", "lock", "--quik"], "unknown option --quik; did you mean --quick? `nox -s grade -- --help`"),
    (["hint", "lock", "extra"], "unexpected argument 'extra'; `nox -s hint -- --help` lists what hint takes"),
    (["grade", "rush", "--checks", "nosuch"], "unknown check 'nosuch' for rush; the checks are: users_rush_at_once"),
    (["grade", "lock", "--checks", "users_rush_at_once"], "unknown check 'users_rush_at_once' for lock"),
    (["hint"], "name an exercise: nox -s hint -- NAME, where NAME is one of: lock, consumer"),
    (["watch"], "name an exercise: nox -s watch -- NAME"),
])
def test_usage_errors_exit_2(args, message):
    done = kit(*args)
    assert done.returncode == 2
    assert message in done.stderr
    if message.startswith(("unknown option", "unexpected argument")):  # the command's usage, not the kit's
        assert f"usage: python -m graders {args[0]}" in done.stderr and "COMMAND" not in done.stderr


def test_help_names_every_option():
    done = kit("grade", "--help")
    assert done.returncode == 0
    for option in ("--methods", "--quick", "--checks", "--json", "--submission"):
        assert option in done.stdout


def test_a_grade_of_some_checks_gives_no_score():
    done = kit("grade", "lock", "--quick", "--checks", "rejects_bad_buyers", "--submission", "solutions/lock/tickets.py")
    assert done.returncode == 0, done.stderr
    assert "lock: 1/1 of the chosen checks passed (no score" in done.stdout
    assert "score 100/100" not in done.stdout
