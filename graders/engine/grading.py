"""Grade submissions: stage the student's files, run the hidden graders in
pytest processes of their own (PROCESSES at once, each with a fixed part of the
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

from graders.sandbox import folders, users
from graders.engine.files import write_whole
from graders.engine.manifest import KIT, Exercise
from graders.engine.results import GradeResult, combine
from graders.engine.settings import START_METHODS, Settings


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
    stage_library(folder)


def stage_library(folder: Path) -> None:
    """folder/lib/graders, a link to the kit's graders: where a grading's runs import them from.
    A warm grader links it before the student's files come, so its processes' zygotes load ahead."""
    if not (folder / "lib").exists():
        (folder / "lib").mkdir(parents=True)
        (folder / "lib" / "graders").symlink_to(KIT / "graders", target_is_directory=True)


# Grading pytest processes at once; each runs a fixed part of the runs (engine/balance.py). A run spends
# most of its time waiting (the scheduler's looks, its processes' starts), so three keep two cores busy.
PROCESSES = 3


def grade(exercises: list[Exercise], *, sources: dict[str, Path] | None = None,
          methods=START_METHODS, quick=False, checks=(), results_path: Path | None = None,
          log_path: Path | None = None, progress=None, processes: int = PROCESSES) -> GradeResult:
    """Grade each exercise's file (default: its stub in exercises/) and return the results.

    The runs are split among `processes` pytest processes that run at once, each
    with its own staged copy and its own sandbox user. The split is fixed,
    so the verdict is the same on any machine. `progress(done, total,
    exercise, title)` is called as runs finish. One process gives the same
    verdicts as several when the grading has at most MAX_TIMEOUTS runs (a check
    under each start method), or none that hangs: no process's time budget
    can run out.
    """
    sources = {e.name: e.exercise_dir / e.stub for e in exercises} | dict(sources or {})
    slots = []
    try:
        try:
            for _ in range(processes):
                slots.append(users.claim())  # as root: the unprivileged user a process's runs use
            # An interpreter each user can run, and a kit it can read: each is found by
            # starting a Python as that user, so all at once.
            with ThreadPoolExecutor(len(slots)) as finding:
                list(finding.map(users.python, slots))
        except users.SandboxError as error:
            raise GraderError(str(error)) from None
        return _grade(exercises, sources, methods, quick, checks, results_path, log_path, progress, slots)
    finally:
        users.release(*slots)


@dataclass
class _Process:
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
    def settings(self) -> Path:
        return self.folder / "settings.json"

    @property
    def progress(self) -> Path:
        return self.folder / "progress.jsonl"

    @property
    def log(self) -> Path:
        return self.folder / "grade.log"


def _grade(exercises, sources, methods, quick, checks, results_path, log_path, progress, slots) -> GradeResult:
    with tempfile.TemporaryDirectory(prefix="kit-stage-") as folder:
        os.chmod(folder, 0o711)  # each process's sandbox user passes through to its own folder (mode 710)
        processes = [_Process(Path(folder) / f"process-{n}") for n in range(len(slots))]
        try:
            for n, (process, slot) in enumerate(zip(processes, slots)):
                process.folder.mkdir()
                chosen = settings_for(process, n, len(slots), methods, quick, checks)
                stage(exercises, sources, Path(chosen.stage))
                folders.open_stage(str(process.folder), chosen.stage, slot)
                process.pytest = _start(process, chosen, exercises, slot)
            _wait(processes, progress)
        finally:
            _stop(processes)
        return results(exercises, processes, results_path, log_path)


def settings_for(process, part: int, parts: int, methods, quick, checks, first=(), go=None) -> Settings:
    """What grading process `part` of `parts` is asked to do: its folder's stage, results and progress."""
    return Settings(stage=str(process.folder / "stage"), results=str(process.results),
                    progress=str(process.progress), methods=tuple(methods), quick=quick, checks=tuple(checks),
                    part=part, parts=parts, first=tuple(first), go=go)


def results(exercises, processes, results_path=None, log_path=None) -> GradeResult:
    """The processes' results put together, once every one has ended; GraderError if one failed."""
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_bytes(b"".join(s.log.read_bytes() for s in processes if s.log.exists()))
    parts = []
    for process in processes:
        # 5: pytest found no run in this part (a grade of one check, say)
        if process.code not in (0, 1, 5) or not process.results.exists():
            raise GraderError(f"the graders could not run (pytest exit code {process.code}); log:\n"
                              + process.log.read_text(errors="replace")[-3000:])
        parts.append(GradeResult.from_json(process.results.read_text()))
    if all(s.code == 5 for s in processes):
        raise GraderError("the graders found no check to run; log:\n"
                          + processes[0].log.read_text(errors="replace")[-3000:])
    result = combine(parts, {e.name: list(e.checks) for e in exercises})
    if results_path is not None:
        write_whole(results_path, result.to_json())
    return result


# pytest's own plugins that no grader uses. Each costs start-up time that the
# student waits for on every grade; the two exception hooks also run a full
# garbage collection as their pytest process ends.
UNUSED_PLUGINS = [arg for name in ("cacheprovider", "unraisableexception", "threadexception", "doctest",
                                   "junitxml", "pastebin", "legacypath", "stepwise", "nose",
                                   "setuponly", "setupplan")
                  for arg in ("-p", f"no:{name}")]


def _start(process, chosen: Settings, exercises, slot, pass_fds=()) -> subprocess.Popen:
    """A grading pytest process, given its settings as a file (read once, by its plugin)."""
    chosen.write(process.settings)
    command = [
        sys.executable, "-m", "pytest", *[str(e.grader_dir) for e in exercises],
        "-c", str(KIT / "graders" / "pytest.ini"), "--rootdir", str(KIT),
        "-p", "graders.engine.plugin", *UNUSED_PLUGINS,
        "--kit-settings", str(process.settings),
    ]
    with open(process.log, "wb") as out:
        return subprocess.Popen(command, cwd=KIT, env=pytest_env(process, slot), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, pass_fds=pass_fds)


def pytest_env(process, slot) -> dict:
    """A grading pytest's environment; makes the process's scratch folder."""
    # The graders' temporary files go inside the process's folder, which goes when
    # the grading ends, however its pytest ended (run folders: see folders.runs_dir).
    scratch = process.folder / "tmp"
    scratch.mkdir(exist_ok=True)
    scratch.chmod(0o711)  # the sandbox user passes through to the run folders, and sees nothing
    # Only the plugins named above: whatever else is installed cannot change a verdict,
    # and scanning entry points is start-up time the student waits for.
    return dict(os.environ, PYTHONPATH=str(KIT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", TMPDIR=str(scratch),
                KIT_RUNS_DIR=tempfile.gettempdir(), **users.env(slot))


STOP_GRACE = (2.0, 10.0)  # seconds: to stop on a Ctrl-C of their own, then after ours


def _stop(processes: list[_Process]) -> None:
    """When the grading is stopped (Ctrl-C): let each pytest end its runs itself, killing their
    process trees, and only then make sure it is gone."""
    running = [s.pytest for s in processes if s.pytest is not None and s.pytest.poll() is None]
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


def _wait(processes: list[_Process], progress, events=None) -> None:
    """Wait for every grading pytest, passing their progress on, added up, as it comes, and each
    process's progress lines, as they are, to `events(process_index, line)`."""
    while True:
        for process in processes:
            if process.code is None:
                try:
                    process.code = process.pytest.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
        news = [_read_progress(process, events and (lambda event, n=n: events(n, event)))
                for n, process in enumerate(processes)]
        known = all(s.total is not None for s in processes)
        if progress and known:
            for event in (e for found in news for e in found):
                progress(sum(s.done for s in processes), sum(s.total for s in processes), event["exercise"], event["title"])
        if all(s.code is not None for s in processes):
            return


def _read_progress(process: _Process, events=None) -> list[dict]:
    """The runs this process finished since the last look."""
    if not process.progress.exists():
        return []
    finished = []
    for line in process.progress.read_text().splitlines()[process.seen:]:
        try:
            event = json.loads(line)
        except ValueError:
            break  # a line still being written
        process.seen += 1
        if events is not None:
            events(event)
        if "done" in event:
            process.done = event["done"]
            finished.append(event)
        else:
            process.total = event["total"]
    return finished
