"""`watch` keeps a warm grader between saves: each check's verdict is told as it is decided, and
Ctrl-C still stops it cleanly, its spare pytest processes and their folder included."""
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil
import pytest

from graders.engine.manifest import KIT


def marked(mark: str) -> list[int]:
    """Processes whose environment carries the mark: everything the watch started."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    if mark.encode() in f.read():
                        found.append(int(name))
            except OSError:
                continue
    return found


def spares(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children() if "--kit-settings" in p.cmdline()]
    except psutil.Error:
        return []


@pytest.mark.parametrize("whole_group", [True, False], ids=["terminal", "kit-alone"])
def test_ctrl_c_stops_a_warm_watch_and_leaves_nothing(tmp_path, whole_group):
    mark = f"KIT_TEST_MARK={uuid.uuid4().hex}"
    env = dict(os.environ, NO_COLOR="1", PYTHONIOENCODING="utf-8", KIT_STATE_DIR=str(tmp_path / "state"),
               **dict([mark.split("=")]))
    kit = subprocess.Popen([sys.executable, "-m", "graders", "watch", "lock"], cwd=KIT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("Graded "):
            line = kit.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        told = [line for line in lines[:next(n for n, x in enumerate(lines) if x.startswith("lock - ")
                                             or x.startswith("lock:"))]
                if line.startswith(("  ✓ ", "  ✗ "))]
        assert told, "".join(lines)  # verdicts as they came, before the report
        deadline = time.monotonic() + 60
        while len(spares(kit.pid)) < 2:  # the next grading's, started once this one ended
            assert time.monotonic() < deadline and kit.poll() is None, "".join(lines)
            time.sleep(0.05)
        if whole_group:
            os.killpg(kit.pid, signal.SIGINT)
        else:
            kit.send_signal(signal.SIGINT)
        out, _ = kit.communicate(timeout=60)
        assert "Stopped watching." in out, out
        assert kit.returncode == 0, out
        assert marked(mark) == []
    finally:
        if kit.poll() is None:
            kit.kill()
            kit.wait()
