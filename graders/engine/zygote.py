"""The grading process's side of the zygote (child/zygote.py), which forks each run's first process.

One zygote per grading process, interpreter and kit folder, started when first needed (or ahead of
the grading, `warm_up`), and kept until the process ends. It runs as the grading process's user and
never runs student code; the forked child confines itself before it does (child/confine.py).
"""
from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import time

from graders.child import zygote as zygote_process

READY_WAIT = 60.0  # seconds for a zygote to import what it preloads, on a loaded machine
ANSWER_WAIT = 30.0  # seconds for it to answer a request, once ready

KEPT = 2  # zygotes kept alive at once; a grading needs one, the kit's own tests start one per kit folder

_zygotes: dict[tuple[str, str], "Zygote"] = {}


class ZygoteError(Exception):
    """The zygote could not start a run: a broken install, not a verdict."""


def for_runs(python: str, env: dict, preload: list[str]) -> "Zygote":
    """The zygote for runs of `python` with this PYTHONPATH, started now if there is none alive."""
    key = (python, env.get("PYTHONPATH", ""))
    zygote = _zygotes.get(key)
    if zygote is None or not zygote.alive():
        if zygote is not None:
            zygote.close()
        _zygotes.pop(key, None)
        while len(_zygotes) >= KEPT:
            _zygotes.pop(next(iter(_zygotes))).close()
        zygote = _zygotes[key] = Zygote(python, env, preload)
    return zygote


def pids() -> set[int]:
    """Every zygote of this process: children of ours that are no run's."""
    return {z.pid for z in _zygotes.values()}


def close_all() -> None:
    for zygote in _zygotes.values():
        zygote.close()
    _zygotes.clear()


atexit.register(close_all)


class Zygote:
    def __init__(self, python: str, env: dict, preload: list[str]):
        request_read, self._requests = os.pipe()
        self._replies, reply_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [python, "-m", zygote_process.__name__, str(request_read), str(reply_write), *preload],
                pass_fds=(request_read, reply_write), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env=env, cwd="/")
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._buffer = b""
        self._ready = False
        self.current: Forked | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def start(self, request: dict) -> "Forked":
        """Fork a run's child for `request` (see child/zygote.py); the previous one must have ended."""
        if self.current is not None:
            self.current.wait()
        self.wait_ready()
        try:
            os.write(self._requests, json.dumps(request).encode() + b"\n")
        except OSError as error:
            raise ZygoteError(f"the zygote is gone: {error}") from None
        answer = self._answer(ANSWER_WAIT)
        if answer is None:
            raise ZygoteError(f"the zygote did not answer within {ANSWER_WAIT:g} s")
        pid = answer["pid"]
        self.current = Forked(self, pid)
        return self.current

    def wait_ready(self) -> None:
        """Wait until it has loaded what it preloads (it says so once)."""
        if not self._ready:
            if self._answer(READY_WAIT) is None:
                raise ZygoteError(f"the zygote was not ready within {READY_WAIT:g} s")
            self._ready = True

    def close(self) -> None:
        for fd in (self._requests, self._replies):
            try:
                os.close(fd)
            except OSError:
                pass
        self._requests = self._replies = -1
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _answer(self, timeout: float | None) -> dict | None:
        """The zygote's next line; None when none came within `timeout` (None: wait for it)."""
        end = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if end is None else max(0.0, end - time.monotonic())
            if not select.select([self._replies], [], [], left)[0]:
                return None
            chunk = os.read(self._replies, 4096)
            if not chunk:
                raise ZygoteError("the zygote ended")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)


class Forked:
    """A run's first process, as the zygote forked it: what a Popen would say of it."""

    def __init__(self, zygote: Zygote, pid: int):
        self.zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._end(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None:
            self._end(timeout)
        return self.returncode

    def _end(self, timeout) -> None:
        try:
            answer = self.zygote._answer(timeout)
        except ZygoteError:
            # The zygote is gone; its child is ours now (the grading process adopts orphans).
            self.returncode = _adopted_end(self.pid, block=timeout != 0)
            if self.returncode is not None:
                self.zygote.current = None
            return
        if answer is not None:
            self.returncode = answer["code"]
            self.zygote.current = None


def _adopted_end(pid: int, block: bool) -> int | None:
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:  # reaped already, or never ours: it is gone either way
        return -9
    return os.waitstatus_to_exitcode(status) if done else None
