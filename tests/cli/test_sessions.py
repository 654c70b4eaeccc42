"""The student's sessions as nox runs them: a stop signal sent to nox reaches the kit, hint and status
need no package, and NO_COLOR follows its convention."""
import io
import os
import signal
import subprocess
import sys

import psutil
import pytest

from graders.engine import report
from graders.engine.manifest import KIT

RUN_KIT = """
import sys, types
import noxfile
noxfile._kit(types.SimpleNamespace(bin=sys.argv[1]), *sys.argv[2:])
"""


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_sent_to_nox_stops_the_kit_as_ctrl_c_does(tmp_path, signal_number):
    env = dict(os.environ, KIT_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")
    nox_side = subprocess.Popen([sys.executable, "-c", RUN_KIT, os.path.dirname(sys.executable), "watch", "lock"],
                                cwd=KIT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = [nox_side.stdout.readline() for _ in range(2)]  # the kit prints these once it runs
    assert first[-1].startswith("Grading lock"), first
    (kit,) = psutil.Process(nox_side.pid).children()
    try:
        assert "graders" in kit.cmdline() and "watch" in kit.cmdline()
        nox_side.send_signal(signal_number)
        out, _ = nox_side.communicate(timeout=60)
        assert "Stopped watching." in out, out
        assert nox_side.returncode == 0, out  # the kit stopped as on Ctrl-C and said so; nox exits with its code
        kit.wait(timeout=10)  # gone, not left running (psutil cannot tell the code of a grandchild)
        assert not kit.is_running()
    finally:
        if kit.is_running():  # left behind: stop it, and the test has failed already
            kit.send_signal(signal.SIGINT)
            try:
                kit.wait(timeout=10)
            except psutil.TimeoutExpired:
                kit.kill()
        nox_side.kill()


def test_hint_and_status_need_no_package(tmp_path):
    """python -S: no site-packages, so neither pytest nor hypothesis nor psutil can be imported."""
    env = dict(os.environ, KIT_STATE_DIR=str(tmp_path / "state"), NO_COLOR="1")
    bare = [sys.executable, "-S", "-c"]
    assert subprocess.run(bare + ["import pytest"], cwd=KIT, env=env, capture_output=True).returncode != 0
    for command in (["hint", "lock"], ["status"]):
        done = subprocess.run([sys.executable, "-S", "-m", "graders", *command], cwd=KIT, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert "Hint 1 of" in subprocess.run([sys.executable, "-S", "-m", "graders", "hint", "lock", "--again"],
                                         cwd=KIT, env=env, capture_output=True, text=True).stdout


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("value, colour", [(None, True), ("", True), ("1", False), ("0", False)])
def test_no_color_turns_colour_off_only_when_set_and_not_empty(monkeypatch, value, colour):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    if value is not None:
        monkeypatch.setenv("NO_COLOR", value)
    assert report.use_colour(Terminal()) is colour
