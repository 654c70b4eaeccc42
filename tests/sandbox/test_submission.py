"""Only the exercise's stub file is taken from a submission: nothing else in it is ever imported."""
import os
import subprocess
import sys
import tempfile

from graders.engine.manifest import KIT, load

LOCK = load()["lock"]
TRAPS = ["conftest.py", "sitecustomize.py", "usercustomize.py", "graders/__init__.py", "graders/engine/__init__.py",
         "lock/conftest.py", "lock/sitecustomize.py", "lock/graders/__init__.py", "lock/__init__.py",
         "pytest.py", "hypothesis.py", "lock/probe.py"]


def test_a_submissions_conftest_sitecustomize_pth_and_graders_are_never_imported(tmp_path):
    markers = tempfile.mkdtemp(prefix="kit-markers-")
    os.chmod(markers, 0o777)  # so that the sandbox user could leave a marker too, if it imported a trap
    try:
        submission = tmp_path / "submission"
        (submission / "lock").mkdir(parents=True)
        (submission / "lock" / LOCK.stub).write_text((LOCK.solution_dir / LOCK.stub).read_text())
        for i, trap in enumerate(TRAPS):
            path = submission / trap
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"open({os.path.join(markers, str(i))!r}, 'w').close()\n")
        for pth in ("evil.pth", "lock/evil.pth"):
            (submission / pth).write_text(f"import os; open({os.path.join(markers, pth.replace('/', '-'))!r}, 'w')\n")
        done = subprocess.run([sys.executable, "-m", "graders", "grade", "lock", "--quick", "--checks",
                               "buy_is_exclusive", "--submission", str(submission)],
                              cwd=KIT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr  # the real graders ran, on the solution
        assert "1/1 of the chosen checks passed" in done.stdout
        assert os.listdir(markers) == [], [TRAPS[int(m)] if m.isdigit() else m for m in os.listdir(markers)]
    finally:
        for name in os.listdir(markers):
            os.remove(os.path.join(markers, name))
        os.rmdir(markers)
