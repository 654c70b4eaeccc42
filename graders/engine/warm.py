"""A warm grader, for `watch`: what a grading waits for before its first run, done in advance.

A cold grade (engine/grading.py) first claims a sandbox user per process, finds the
interpreter each may run, and starts its pytest processes, which import pytest,
hypothesis and the engine, configure, and collect the checks: about a second
before the first run of the student's program, more on a loaded machine. A
WarmGrader claims the users once, for as long as it lives, and keeps the next
grading's pytest processes started, with the arguments a cold grade would give
them, and waiting once the checks are collected (`Settings.go`, engine/plugin.py).
A grading stages the file and tells each to go on, with the checks to run
first; from then on it is the grading grade() makes: the same processes, the same
runs in each, the same results, read back the same way.

Nothing of one grading survives into the next. Each pytest process serves one
grading and ends, with its folder; the ones for the next grading are started
only once it ended and its users' processes and files were swept away. They
have never seen the student's code: the file is staged only when they are told
to go on, and the grading process never imports it anyway (it runs it in a
fresh child per run, as the sandbox user).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from graders.engine import grading as cold
from graders.engine.settings import START_METHODS
from graders.sandbox import cleanup, folders, users
from graders.engine.manifest import Exercise
from graders.engine.results import GradeResult


class WarmGrader:
    """Grades again and again; use it as a context manager, or close() it. The pytest processes made
    ready grade `exercises` under `methods` (quick or not, some `checks` or all): a grading asked
    otherwise starts its own, as a cold one."""

    def __init__(self, exercises: list[Exercise], *, methods=START_METHODS, quick=False, checks=(),
                 processes: int = cold.PROCESSES):
        self.ready_for = self._key(exercises, methods, quick, checks)
        self.slots: list = []
        self.folder: Path | None = None
        self.processes: list[cold._Process] = []
        self.go: list[int] = []  # each process's pipe: a line tells it to go on, its end to stop
        try:
            for _ in range(processes):
                self.slots.append(users.claim())
            with ThreadPoolExecutor(len(self.slots)) as finding:
                list(finding.map(users.python, self.slots))
        except users.SandboxError as error:
            self.close()
            raise cold.GraderError(str(error)) from None
        except BaseException:
            self.close()
            raise
        self._start_spares()

    @staticmethod
    def _key(exercises, methods, quick, checks) -> tuple:
        return tuple(exercises), tuple(methods), bool(quick), tuple(checks)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _start_spares(self) -> None:
        """The next grading's pytest processes, loading and collecting while the student edits."""
        exercises, methods, quick, checks = self.ready_for
        self.folder = Path(tempfile.mkdtemp(prefix="kit-stage-"))
        os.chmod(self.folder, 0o711)  # as grade()'s: each process's user passes through to its own folder
        self.processes = [cold._Process(self.folder / f"process-{n}") for n in range(len(self.slots))]
        for n, (process, slot) in enumerate(zip(self.processes, self.slots)):
            process.folder.mkdir()
            cold.stage_library(process.folder / "stage")
            wait, go = os.pipe()
            try:
                chosen = cold.settings_for(process, n, len(self.slots), methods, quick, checks, go=wait)
                process.pytest = cold._start(process, chosen, list(exercises), slot, pass_fds=[wait])
            except BaseException:
                os.close(go)
                raise
            finally:
                os.close(wait)
            self.go.append(go)

    def grade(self, exercises: list[Exercise], *, sources: dict[str, Path] | None = None,
              methods=START_METHODS, quick=False, checks=(), first=(), log_path: Path | None = None,
              progress=None, events=None) -> GradeResult:
        """As grading.grade(); `first`: checks to run before the others in each process (the ones that
        failed last), which changes no verdict (engine/plugin.py); `events(process, line)`: each
        progress line of each process as it comes."""
        sources = {e.name: e.exercise_dir / e.stub for e in exercises} | dict(sources or {})
        wanted = self._key(exercises, methods, quick, checks)
        if wanted != self.ready_for or any(s.pytest.poll() is not None for s in self.processes):
            # Asked for another grading, or one ended while it waited (a Ctrl-C of its own): start afresh.
            self._stop_spares()
            if self.folder is not None:
                self._end_grading(self.folder, again=False)
            self.ready_for = wanted
        if self.folder is None:
            self._start_spares()
        processes, folder = self.processes, self.folder
        try:
            try:
                for process, slot in zip(processes, self.slots):
                    cold.stage(exercises, sources, process.folder / "stage")
                    folders.open_stage(str(process.folder), str(process.folder / "stage"), slot)
                self._tell_all(json.dumps({"first": list(first)}).encode() + b"\n")
                cold._wait(processes, progress, events)
            finally:
                self._tell_all(b"")  # not told to go on (the staging failed): told to end
                cold._stop(processes)
            result = cold.results(exercises, processes, log_path=log_path)
        except BaseException:
            self._end_grading(folder, again=False)  # stopped (Ctrl-C) or failed: no spares for a next grading
            raise
        self._end_grading(folder)
        return result

    def _end_grading(self, folder: Path, again: bool = True) -> None:
        """Sweep the users' processes and files, remove the grading's folder, and start the next spares."""
        interrupt = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for slot in self.slots:
                cleanup.sweep(slot)
            cleanup.clean_scratch(*self.slots)
            shutil.rmtree(folder, ignore_errors=True)
            self.folder, self.processes = None, []
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, interrupt)
        if again:
            self._start_spares()

    def close(self) -> None:
        """End the spares, remove their folder, give the users back."""
        interrupt = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._stop_spares()
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
            self.folder, self.processes = None, []
            users.release(*self.slots)
            self.slots = []
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, interrupt)

    def _stop_spares(self) -> None:
        """End the waiting pytest processes: the end of their pipe, which they take as no grading; then a kill."""
        self._tell_all(b"")
        deadline = time.monotonic() + SPARE_GRACE
        for process in self.processes:
            if process.pytest is None:
                continue
            try:
                process.pytest.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.pytest.kill()
                process.pytest.wait()


    def _tell_all(self, line: bytes) -> None:
        while self.go:
            _tell(self.go.pop(0), line)


SPARE_GRACE = 10.0  # seconds for a pytest process still starting to reach its pipe, read its end, and end


def _tell(pipe: int, line: bytes) -> None:
    """Write to a process's pipe and close it; a process that died meanwhile fails the grading as a cold one
    would, by its exit code and log (grading.results)."""
    try:
        if line:
            os.write(pipe, line)
    except OSError:
        pass
    finally:
        os.close(pipe)
