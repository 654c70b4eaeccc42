"""Ctrl-C in the middle of a grading: the kit stops, says so, and leaves no
process and no file behind, whether the whole terminal's process group got
the SIGINT or the kit alone did (as when nox passes it on)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from graders.engine.manifest import KIT

FOREVER = "def sell(db_path, buyers, pause=print):\n    while True:\n        pass\n"


def marked(mark: str) -> list[int]:
    """Processes whose environment carries the mark: everything the grading started."""
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


@pytest.mark.parametrize("whole_group", [True, False], ids=["terminal", "kit-alone"])
def test_an_interrupted_grading_leaves_nothing_behind(whole_group):
    scratch = tempfile.mkdtemp(prefix="kit-test-interrupt-", dir="/tmp")
    os.chmod(scratch, 0o711)  # the sandbox user passes through, as through /tmp
    try:
        submission = os.path.join(scratch, "tickets.py")
        with open(submission, "w") as f:
            f.write(FOREVER)
        mark = f"KIT_TEST_MARK={uuid.uuid4().hex}"
        env = dict(os.environ, TMPDIR=scratch, NO_COLOR="1", KIT_STATE_DIR=os.path.join(scratch, "state"),
                   **dict([mark.split("=")]))
        kit = subprocess.Popen([sys.executable, "-m", "graders", "grade", "lock", "--submission", submission,
                                "--quick"], cwd=KIT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
        while not any(n.startswith("kit-run-") for n in os.listdir(scratch)):  # a run of the program began
            assert kit.poll() is None, kit.communicate()
            time.sleep(0.05)
        if whole_group:
            os.killpg(kit.pid, signal.SIGINT)
        else:
            kit.send_signal(signal.SIGINT)
        out, err = kit.communicate(timeout=60)
        assert kit.returncode == 130, (out, err)
        assert "interrupted" in err
        assert marked(mark) == []
        assert sorted(os.listdir(scratch)) == ["tickets.py"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
