"""The grader's side of `pause`: hold every thread that reaches a stage, and
release the held ones together once nothing else in the program can move.

This is lockstep scheduling. Between two releases every thread of the student's
program runs until it either reaches `pause` (and is held here) or blocks on
something else: a lock, a join, a queue. When the whole process tree is blocked
("quiescent", judged by `tree.py`), the held threads form one batch: they were
inside their stages at the same moment, whatever the machine's load. A racy
program therefore shows its race on every run, and a correct one never does.
"""
from __future__ import annotations

import json
import os
import selectors
import socket
from dataclasses import dataclass, field

from graders.engine import locktrace


@dataclass(frozen=True)
class Arrival:
    """One call of `pause(stage)`: who called it and where."""

    seq: int
    pid: int
    tid: int
    thread: str
    stage: str
    locks: tuple[locktrace.Held, ...] = ()  # the traced locks this thread held at the pause, in order taken


@dataclass(frozen=True)
class Batch:
    """Threads released together, and the processes alive at that moment."""

    arrivals: tuple[Arrival, ...]
    alive: frozenset[int]

    def at(self, stage: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.stage == stage]


@dataclass
class Trace:
    """Everything the scheduler saw: the grader's trusted record of a run."""

    arrivals: list[Arrival] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)

    def pids_at(self, stage: str) -> list[int]:
        """Processes that reached `stage`, in order of first arrival."""
        return list(dict.fromkeys(a.pid for a in self.arrivals if a.stage == stage))

    def stages_of(self, pid: int) -> list[str]:
        return [a.stage for a in self.arrivals if a.pid == pid]

    def max_together(self, stage: str) -> int:
        """The most threads that were inside `stage` at one moment."""
        return max((len(b.at(stage)) for b in self.batches), default=0)

    def max_alive(self, pids) -> int:
        """The most of `pids` that were alive at one release."""
        pids = set(pids)
        return max((len(b.alive & pids) for b in self.batches), default=0)

    def batch_of(self, stage: str) -> Batch | None:
        """The first batch in which some thread was at `stage`."""
        return next((b for b in self.batches if b.at(stage)), None)

    def timeline(self, stages, role: str) -> list[str]:
        """One line per step: which stage each process was inside, together.

        Processes are named by role and order of first arrival ("buyer 1"), the
        way a student thinks of them, not by pid.
        """
        number = {pid: n for n, pid in enumerate(dict.fromkeys(a.pid for a in self.arrivals), 1)}
        lines = []
        for batch in self.batches:
            inside: dict[str, list[str]] = {}
            for a in batch.arrivals:
                if a.stage in stages:
                    inside.setdefault(a.stage, []).append(f"{role} {number[a.pid]}")
            if inside:
                lines.append(f"step {len(lines) + 1}: " + "; ".join(
                    f"inside {stage}: {', '.join(names)}" for stage, names in inside.items()))
        return lines


class Coordinator:
    """A Unix socket that `Pause` objects connect to, and the threads it holds."""

    def __init__(self, folder: str):
        self.address = os.path.join(folder, "pause.sock")
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(self.address)
        self._server.listen(1024)
        self._server.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._server, selectors.EVENT_READ)
        self._buffers: dict[socket.socket, bytes] = {}
        self.held: dict[socket.socket, Arrival] = {}
        self.trace = Trace()

    def poll(self, timeout: float) -> bool:
        """Take in connections and arrivals; True when anything happened."""
        happened = False
        for key, _ in self._selector.select(timeout):
            happened = True
            if key.fileobj is self._server:
                self._accept()
            else:
                self._read(key.fileobj)
        return happened

    def pending(self) -> bool:
        """Whether a thread is on its way in (so the program is not quiescent)."""
        return bool(self._selector.select(0))

    def release(self, alive: frozenset[int], choose=None) -> Batch:
        """Let held threads go on; `choose` picks which (default: all)."""
        held = sorted(self.held.values(), key=lambda a: a.seq)
        chosen = choose(held, self.trace) if choose else held
        batch = Batch(tuple(held), alive)
        self.trace.batches.append(batch)
        for sock, arrival in list(self.held.items()):
            if arrival in chosen:
                del self.held[sock]
                self._drop(sock, answer=True)
        return batch

    def close(self):
        for sock in list(self.held) + list(self._buffers):
            self._drop(sock, answer=False)
        self.held.clear()
        self._selector.close()
        self._server.close()

    def _accept(self):
        try:
            sock, _ = self._server.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        self._buffers[sock] = b""
        self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, sock):
        try:
            chunk = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the thread died before or while being held
            self.held.pop(sock, None)
            self._drop(sock, answer=False)
            return
        data = self._buffers.get(sock, b"") + chunk
        if b"\n" not in data:
            self._buffers[sock] = data[:4096]
            return
        self._buffers.pop(sock, None)
        try:
            message = json.loads(data.split(b"\n", 1)[0])
            arrival = Arrival(
                seq=len(self.trace.arrivals),
                pid=int(message["pid"]),
                tid=int(message["tid"]),
                thread=str(message["thread"])[:100],
                stage=str(message["stage"])[:200],
                locks=locktrace.held_locks(message.get("locks")),
            )
        except (ValueError, KeyError, TypeError):
            self._drop(sock, answer=False)
            return
        self.trace.arrivals.append(arrival)
        self.held[sock] = arrival

    def _drop(self, sock, answer: bool):
        self._buffers.pop(sock, None)
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        if answer:
            try:
                sock.sendall(b"go\n")
            except OSError:
                pass
        sock.close()
