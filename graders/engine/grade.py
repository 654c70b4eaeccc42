"""Grade submissions: stage the student's files, run the hidden graders in a
pytest process of their own, and read back the results as data.

Only the files the manifest names are taken from a submission, copied into a
fresh folder; the graders reach student code only through the child processes
that `run.py` starts.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from graders.engine import limits
from graders.engine.manifest import KIT, Exercise
from graders.engine.results import GradeResult

START_METHODS = ("fork", "spawn", "forkserver")


class GraderError(Exception):
    """The graders themselves could not run: a bug or a broken install, not a verdict."""


def stage(exercises: list[Exercise], sources: dict[str, Path], folder: Path) -> None:
    """Copy each exercise's one student file into folder/NAME/, and link the graders."""
    for exercise in exercises:
        source = sources[exercise.name]
        if not source.is_file():
            raise FileNotFoundError(f"{exercise.name}: no such file: {source}")
        (folder / exercise.name).mkdir(parents=True)
        shutil.copyfile(source, folder / exercise.name / exercise.stub)
    (folder / "lib").mkdir()
    (folder / "lib" / "graders").symlink_to(KIT / "graders", target_is_directory=True)


def grade(exercises: list[Exercise], *, sources: dict[str, Path] | None = None,
          methods=START_METHODS, quick=False, checks=(), results_path: Path | None = None,
          log_path: Path | None = None, progress=None) -> GradeResult:
    """Grade each exercise's file (default: its stub in exercises/) and return the results.

    `progress(done, total, exercise, title)` is called as runs finish.
    """
    sources = {e.name: e.exercise_dir / e.stub for e in exercises} | dict(sources or {})
    try:
        slot = limits.claim()  # as root: the unprivileged user this grading's submissions run as
    except limits.SandboxError as error:
        raise GraderError(str(error)) from None
    try:
        try:
            limits.python(slot)  # an interpreter that user can run, and a kit it can read
        except limits.SandboxError as error:
            raise GraderError(str(error)) from None
        return _grade(exercises, sources, methods, quick, checks, results_path, log_path, progress, slot)
    finally:
        limits.release(slot)


def _grade(exercises, sources, methods, quick, checks, results_path, log_path, progress, slot) -> GradeResult:
    with tempfile.TemporaryDirectory(prefix="kit-stage-") as folder:
        folder = Path(folder)
        stage(exercises, sources, folder / "stage")
        limits.open_stage(str(folder), str(folder / "stage"), slot)
        results = folder / "results.json"
        command = [
            sys.executable, "-m", "pytest", *[str(e.grader_dir) for e in exercises],
            "-c", str(KIT / "graders" / "pytest.ini"), "--rootdir", str(KIT),
            "-p", "graders.engine.plugin", "-p", "no:cacheprovider",
            "--kit-stage", str(folder / "stage"), "--kit-results", str(results),
            "--kit-methods", ",".join(methods),
            *(["--kit-quick"] if quick else []),
            *(["--kit-checks", ",".join(checks)] if checks else []),
            "--kit-progress", str(folder / "progress.jsonl"),
        ]
        # Only the plugins named above: whatever else is installed cannot change a verdict,
        # and scanning entry points is start-up time the student waits for.
        env = dict(os.environ, PYTHONPATH=str(KIT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **limits.env(slot))
        log = folder / "grade.log"
        with open(log, "wb") as out:
            pytest = subprocess.Popen(command, cwd=KIT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
            code = _wait(pytest, folder / "progress.jsonl", progress)
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, log_path)
        if code not in (0, 1) or not results.exists():
            raise GraderError(f"the graders could not run (pytest exit code {code}); log:\n"
                              + log.read_text(errors="replace")[-3000:])
        text = results.read_text()
        if results_path is not None:
            results_path.parent.mkdir(parents=True, exist_ok=True)
            partial = results_path.with_suffix(".part")
            partial.write_text(text)
            partial.replace(results_path)
        return GradeResult.from_json(text)


def _wait(pytest: subprocess.Popen, progress_file: Path, progress) -> int:
    """Wait for the pytest process, passing its progress lines on as they come."""
    seen = 0
    while True:
        try:
            code = pytest.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            code = None
        if progress and progress_file.exists():
            lines = progress_file.read_text().splitlines()
            for line in lines[seen:]:
                try:
                    event = json.loads(line)
                except ValueError:
                    break  # a line still being written
                progress(event["done"], event["total"], event["exercise"], event["title"])
                seen += 1
        if code is not None:
            return code
