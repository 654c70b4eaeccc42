"""A warm grader, for `watch`: what a grading waits for before its first run, done in advance.

A cold grade (engine/grade.py) first claims a sandbox user per share, finds the
interpreter each may run, and starts its pytest processes, which then import
pytest, hypothesis and the engine: about a second before the first run of the
student's program, and more on a loaded machine. A WarmGrader claims the users
once, for as long as it lives, and keeps the next grading's pytest processes
started and waiting, everything imported (engine/spare.py). A grading stages
the file, hands each its arguments, and from then on it is the grading
grade() makes: the same shares, the same runs in each, the same results, read
back the same way.

Nothing of one grading survives into the next. Each pytest process serves one
grading and ends, with its folder; the spares for the next one are started
only once it ended and its users' processes and files were swept away, so
they have never seen the student's code (the grading process never imports it
anyway: it runs it in a fresh child per run, as the sandbox user).
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
from pathlib import Path

from graders.engine import grade as cold, limits
from graders.engine.manifest import KIT, Exercise
from graders.engine.results import GradeResult


class WarmGrader:
    """Grades one exercise (or several) again and again; use it as a context manager, or close() it."""

    def __init__(self, shares: int = cold.SHARDS):
        self.slots: list = []
        self.folder: Path | None = None
        self.shards: list[cold._Shard] = []
        try:
            for _ in range(shares):
                self.slots.append(limits.claim())
            with ThreadPoolExecutor(len(self.slots)) as finding:
                list(finding.map(limits.python, self.slots))
        except limits.SandboxError as error:
            self.close()
            raise cold.GraderError(str(error)) from None
        except BaseException:
            self.close()
            raise
        self._start_spares()

    @property
    def shares(self) -> int:
        return len(self.slots)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _start_spares(self) -> None:
        """The next grading's pytest processes, importing while the student edits."""
        self.folder = Path(tempfile.mkdtemp(prefix="kit-stage-"))
        os.chmod(self.folder, 0o711)  # as grade()'s: each share's user passes through to its own folder
        self.shards = [cold._Shard(self.folder / f"share-{n}") for n in range(len(self.slots))]
        for shard, slot in zip(self.shards, self.slots):
            shard.folder.mkdir()
            with open(shard.log, "wb") as out:
                shard.pytest = subprocess.Popen(
                    [sys.executable, "-m", "graders.engine.spare"], cwd=KIT,
                    env=cold.pytest_env(shard, slot), stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.PIPE)

    def grade(self, exercises: list[Exercise], *, sources: dict[str, Path] | None = None,
              methods=cold.START_METHODS, quick=False, checks=(), first=(), log_path: Path | None = None,
              progress=None, events=None) -> GradeResult:
        """As grade.grade(); `first`: checks to run before the others in each share (the ones that
        failed last), which changes no verdict (engine/plugin.py); `events(share, line)`: each
        progress line of each share as it comes."""
        sources = {e.name: e.exercise_dir / e.stub for e in exercises} | dict(sources or {})
        if self.folder is not None and any(s.pytest.poll() is not None for s in self.shards):
            self._stop_spares()  # one ended while it waited (a Ctrl-C of its own): start afresh
            self._end_grading(self.folder)
        elif self.folder is None:
            self._start_spares()
        shards, folder = self.shards, self.folder
        try:
            try:
                for n, (shard, slot) in enumerate(zip(shards, self.slots)):
                    cold.stage(exercises, sources, shard.folder / "stage")
                    limits.open_stage(str(shard.folder), str(shard.folder / "stage"), slot)
                    args = cold.pytest_args(shard, f"{n}/{len(shards)}", exercises, methods, quick, checks, first)
                    _hand(shard.pytest, args)
                cold._wait(shards, progress, events)
            finally:
                cold._stop(shards)
            result = cold.results(exercises, shards, log_path=log_path)
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
                limits.sweep(slot)
            limits.clean_scratch(*self.slots)
            shutil.rmtree(folder, ignore_errors=True)
            self.folder, self.shards = None, []
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
            self.folder, self.shards = None, []
            limits.release(*self.slots)
            self.slots = []
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, interrupt)

    def _stop_spares(self) -> None:
        """End the waiting spares: end of input first, which they take as no grading; then a kill."""
        for shard in self.shards:
            if shard.pytest is not None and shard.pytest.poll() is None:
                try:
                    shard.pytest.stdin.close()
                except OSError:
                    pass
        deadline = time.monotonic() + SPARE_GRACE
        for shard in self.shards:
            if shard.pytest is None:
                continue
            try:
                shard.pytest.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                shard.pytest.kill()
                shard.pytest.wait()


SPARE_GRACE = 5.0  # seconds for a spare still importing to read its end of input and end


def _hand(spare: subprocess.Popen, args: list[str]) -> None:
    """Give a waiting spare its arguments; a spare that died meanwhile fails the grading as a cold one would."""
    try:
        spare.stdin.write(json.dumps(args).encode() + b"\n")
        spare.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # its exit code and log tell what happened (grade.results)
