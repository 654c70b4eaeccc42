"""Grade submissions: stage the student's files, run the hidden graders in a
pytest processes of their own (two at once, each with a fixed share of the
runs), and read back the results as data.

Only the files the manifest names are taken from a submission, copied into a
fresh folder; the graders reach student code only through the child processes
that `run.py` starts.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from graders.engine import limits
from graders.engine.manifest import KIT, Exercise
from graders.engine.results import GradeResult, combine

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


SHARDS = 2  # pytest processes per grading, at once; each runs a fixed share of the checks (engine/shards.py)


def grade(exercises: list[Exercise], *, sources: dict[str, Path] | None = None,
          methods=START_METHODS, quick=False, checks=(), results_path: Path | None = None,
          log_path: Path | None = None, progress=None) -> GradeResult:
    """Grade each exercise's file (default: its stub in exercises/) and return the results.

    The runs are shared among SHARDS pytest processes that run at once, each
    with its own staged copy and its own sandbox user: most of a run is
    starting Python processes, which one core does alone. The share is fixed,
    so the verdict is the same on any machine. `progress(done, total,
    exercise, title)` is called as runs finish.
    """
    sources = {e.name: e.exercise_dir / e.stub for e in exercises} | dict(sources or {})
    slots = []
    try:
        try:
            for _ in range(SHARDS):
                slots.append(limits.claim())  # as root: the unprivileged user a share's runs use
            # An interpreter each user can run, and a kit it can read: each is found by
            # starting a Python as that user, so all at once.
            with ThreadPoolExecutor(len(slots)) as finding:
                list(finding.map(limits.python, slots))
        except limits.SandboxError as error:
            raise GraderError(str(error)) from None
        return _grade(exercises, sources, methods, quick, checks, results_path, log_path, progress, slots)
    finally:
        limits.release(*slots)


@dataclass
class _Shard:
    folder: Path
    pytest: subprocess.Popen | None = None
    code: int | None = None
    seen: int = 0  # progress lines read
    total: int | None = None
    done: int = 0

    @property
    def results(self) -> Path:
        return self.folder / "results.json"

    @property
    def progress(self) -> Path:
        return self.folder / "progress.jsonl"

    @property
    def log(self) -> Path:
        return self.folder / "grade.log"


def _grade(exercises, sources, methods, quick, checks, results_path, log_path, progress, slots) -> GradeResult:
    with tempfile.TemporaryDirectory(prefix="kit-stage-") as folder:
        os.chmod(folder, 0o711)  # each share's sandbox user passes through to its own folder (mode 710)
        shards = [_Shard(Path(folder) / f"share-{n}") for n in range(len(slots))]
        try:
            for n, (shard, slot) in enumerate(zip(shards, slots)):
                shard.folder.mkdir()
                shard.pytest = _start(shard, f"{n}/{len(slots)}", exercises, sources, methods, quick, checks, slot)
            _wait(shards, progress)
        finally:
            _stop(shards)
        return results(exercises, shards, results_path, log_path)


def results(exercises, shards, results_path=None, log_path=None) -> GradeResult:
    """The shares' results put together, once every share's pytest has ended; GraderError if one failed."""
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_bytes(b"".join(s.log.read_bytes() for s in shards if s.log.exists()))
    parts = []
    for shard in shards:
        # 5: pytest found no run for this share (a grade of one check, say)
        if shard.code not in (0, 1, 5) or not shard.results.exists():
            raise GraderError(f"the graders could not run (pytest exit code {shard.code}); log:\n"
                              + shard.log.read_text(errors="replace")[-3000:])
        parts.append(GradeResult.from_json(shard.results.read_text()))
    if all(s.code == 5 for s in shards):
        raise GraderError("the graders found no check to run; log:\n"
                          + shards[0].log.read_text(errors="replace")[-3000:])
    result = combine(parts, {e.name: list(e.checks) for e in exercises})
    if results_path is not None:
        results_path.parent.mkdir(parents=True, exist_ok=True)
        partial = results_path.with_suffix(".part")
        partial.write_text(result.to_json())
        partial.replace(results_path)
    return result


# pytest's own plugins that no grader uses. Each costs start-up time that the
# student waits for on every grade; the two exception hooks also run a full
# garbage collection as their pytest process ends.
UNUSED_PLUGINS = [arg for name in ("cacheprovider", "unraisableexception", "threadexception", "doctest",
                                   "junitxml", "pastebin", "legacypath", "stepwise", "nose",
                                   "setuponly", "setupplan")
                  for arg in ("-p", f"no:{name}")]


def _start(shard, share, exercises, sources, methods, quick, checks, slot) -> subprocess.Popen:
    stage(exercises, sources, shard.folder / "stage")
    limits.open_stage(str(shard.folder), str(shard.folder / "stage"), slot)
    command = [sys.executable, "-m", "pytest", *pytest_args(shard, share, exercises, methods, quick, checks)]
    with open(shard.log, "wb") as out:
        return subprocess.Popen(command, cwd=KIT, env=pytest_env(shard, slot), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def pytest_args(shard, share, exercises, methods, quick, checks, first=()) -> list[str]:
    """A share's pytest command line, after `python -m pytest`."""
    return [
        *[str(e.grader_dir) for e in exercises],
        "-c", str(KIT / "graders" / "pytest.ini"), "--rootdir", str(KIT),
        "-p", "graders.engine.plugin", *UNUSED_PLUGINS,
        "--kit-stage", str(shard.folder / "stage"), "--kit-results", str(shard.results),
        "--kit-methods", ",".join(methods),
        *(["--kit-quick"] if quick else []),
        *(["--kit-checks", ",".join(checks)] if checks else []),
        *(["--kit-first", ",".join(first)] if first else []),
        "--kit-progress", str(shard.progress), "--kit-shard", share,
    ]


def pytest_env(shard, slot) -> dict:
    """A share's pytest environment; makes the share's scratch folder."""
    # The graders' temporary files go inside the share's folder, which goes when
    # the grading ends, however its pytest ended (run folders: see limits.runs_dir).
    scratch = shard.folder / "tmp"
    scratch.mkdir(exist_ok=True)
    scratch.chmod(0o711)  # the sandbox user passes through to the run folders, and sees nothing
    # Only the plugins named above: whatever else is installed cannot change a verdict,
    # and scanning entry points is start-up time the student waits for.
    return dict(os.environ, PYTHONPATH=str(KIT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", TMPDIR=str(scratch),
                KIT_RUNS_DIR=tempfile.gettempdir(), **limits.env(slot))


STOP_GRACE = (2.0, 10.0)  # seconds: to stop on a Ctrl-C of their own, then after ours


def _stop(shards: list[_Shard]) -> None:
    """When the grading is stopped (Ctrl-C): let each pytest end its runs itself, killing their
    process trees, and only then make sure it is gone."""
    running = [s.pytest for s in shards if s.pytest is not None and s.pytest.poll() is None]
    for grace, signal_first in zip(STOP_GRACE, (None, signal.SIGINT)):
        if signal_first is not None:  # a Ctrl-C from a terminal reached them already; nothing else did
            for pytest in running:
                pytest.send_signal(signal_first)
        deadline = time.monotonic() + grace
        for pytest in running:
            try:
                pytest.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        running = [p for p in running if p.poll() is None]
    for pytest in running:
        pytest.kill()
        pytest.wait()


def _wait(shards: list[_Shard], progress, events=None) -> None:
    """Wait for every share's pytest, passing their progress on, added up, as it comes, and
    each share's progress lines, as they are, to `events(shard_index, line)`."""
    while True:
        for shard in shards:
            if shard.code is None:
                try:
                    shard.code = shard.pytest.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
        news = [_read_progress(shard, events and (lambda event, n=n: events(n, event)))
                for n, shard in enumerate(shards)]
        known = all(s.total is not None for s in shards)
        if progress and known:
            for event in (e for found in news for e in found):
                progress(sum(s.done for s in shards), sum(s.total for s in shards), event["exercise"], event["title"])
        if all(s.code is not None for s in shards):
            return


def _read_progress(shard: _Shard, events=None) -> list[dict]:
    """The runs this share finished since the last look."""
    if not shard.progress.exists():
        return []
    finished = []
    for line in shard.progress.read_text().splitlines()[shard.seen:]:
        try:
            event = json.loads(line)
        except ValueError:
            break  # a line still being written
        shard.seen += 1
        if events is not None:
            events(event)
        if "done" in event:
            shard.done = event["done"]
            finished.append(event)
        else:
            shard.total = event["total"]
    return finished
