"""The hostile class graded as an ordinary user, not root: what the sandbox still guarantees there.

CI runs as root, so the test drops privileges itself: it makes a throwaway
user (`useradd`), a copy of the kit that user owns, and a virtual environment
it can run (an interpreter it may reach, with the tests' own packages), and
has that user grade the class of `fake_class.py`. The hostile submissions that
only a sandbox user holds against (`needs_sandbox_user`) are left out of the
class, as they are for anyone who grades as an ordinary user. What must hold
(the README's sandbox section says what does not): every verdict, each
hostile submission failing for what it did, nothing left running, nothing of
the kit changed, and nothing of that user's left in /tmp, /var/tmp, /dev/shm,
/run/lock or /dev/mqueue, nor System V objects.
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psutil
import pytest

import hostile
from graders.sandbox import cleanup, users
from graders.engine.manifest import KIT

NOT_COPIED = shutil.ignore_patterns(".nox", ".git", "__pycache__", "*.pyc", ".kit", "dist", ".pytest_cache")

GRADE = """
import json, sys
kit = sys.argv[1]
sys.path[:0] = [kit, kit + "/tests"]
import fake_class
from pathlib import Path
record = fake_class.graded_class()
failures = {}
for name in record["gradebook"]:
    try:
        results = json.loads((Path(record["out"]) / "students" / name / "results.json").read_text())
    except OSError:
        continue
    failures[name] = [run["failure"] for check in results["exercises"][0]["checks"] for run in check["runs"]]
record["failures"] = failures
with open(sys.argv[2], "w") as f:
    json.dump(record, f)
"""


@pytest.fixture
def throwaway_user():
    if os.geteuid() != 0:
        pytest.skip("needs root, to make a throwaway user whose files and processes can be told apart")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("needs useradd and userdel, to make a throwaway user")
    name = f"kit-{uuid.uuid4().hex[:12]}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        uid = pwd.getpwnam(name).pw_uid
        cleanup.sweep(users.Slot(uid))  # should there be any: the test has failed already
        subprocess.run(["userdel", "--force", name], capture_output=True)


def runnable_python(user) -> str:
    """An interpreter of the tests' own Python version that the user may run."""
    version = "%d.%d" % sys.version_info[:2]
    for candidate in dict.fromkeys([os.path.realpath(sys.executable), f"/usr/local/bin/python{version}",
                                    f"/usr/bin/python{version}"]):
        try:
            done = subprocess.run([candidate, "-I", "-c", "import multiprocessing"], user=user.pw_uid,
                                  group=user.pw_gid, extra_groups=[], cwd="/", capture_output=True)
        except OSError:
            continue
        if done.returncode == 0:
            return candidate
    pytest.skip(f"no python{version} that an ordinary user may run")


def leftovers(uid: int, but: str) -> list[str]:
    found = []
    for folder in cleanup.SCRATCH:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        found += [e.path for e in entries if e.path != but and e.stat(follow_symlinks=False).st_uid == uid]
    return found


def test_the_hostile_class_graded_by_an_ordinary_user_keeps_what_the_sandbox_promises(throwaway_user):
    user = throwaway_user
    home = tempfile.mkdtemp(prefix="kit-ordinary-")
    try:
        os.chmod(home, 0o755)
        kit = os.path.join(home, "kit")
        shutil.copytree(KIT, kit, ignore=NOT_COPIED)
        python = runnable_python(user)
        subprocess.run([python, "-m", "venv", "--without-pip", os.path.join(home, "venv")], check=True)
        [site] = Path(home, "venv", "lib").glob("python3*/site-packages")
        (site / "kit-tests.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
        for root, dirs, files in os.walk(home):
            for entry in dirs + files:
                os.lchown(os.path.join(root, entry), user.pw_uid, user.pw_gid)
        os.chown(home, user.pw_uid, user.pw_gid)
        record_path = os.path.join(home, "record.json")
        done = subprocess.run([os.path.join(home, "venv", "bin", "python"), "-c", GRADE, kit, record_path],
                              user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd=kit,
                              env={"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8"},
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stdout + done.stderr
        record = json.loads(Path(record_path).read_text())

        assert record["returncode"] == 0, record["output"]
        book = record["gradebook"]
        assert {name: row["verdict"] for name, row in book.items()} == record["expected"]
        for name, row in book.items():
            assert row["score"] == ("100" if record["expected"][name] == "passed" else "0"), (name, row)
        graded = [h for h in hostile.HOSTILES if f"hostile-{h.name}" in book]
        assert graded == [h for h in hostile.HOSTILES if not h.needs_sandbox_user]
        for case in graded:
            failures = record["failures"][f"hostile-{case.name}"]
            assert failures and None not in failures and all(f["kind"] != "grader" for f in failures), failures
            assert any(piece in f["summary"] for f in failures for piece in case.expect.split(" | ")), \
                f"{case.about}: {failures[0]['summary']}"
        assert record["survivors"] == [] and record["patched"] == []

        assert [p.pid for p in psutil.process_iter() if _uid(p) == user.pw_uid] == [], "processes left running"
        assert leftovers(user.pw_uid, but=home) == []
        for kind in ("shm", "sem", "msg"):
            assert cleanup.sysv_objects(kind, {user.pw_uid}) == [], kind
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _uid(proc) -> int | None:
    try:
        return proc.uids().real
    except psutil.Error:
        return None
