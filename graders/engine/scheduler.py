"""The grader's side of `pause`: hold every thread that reaches a stage, and
release the held ones together once nothing else in the program can move.

This is lockstep scheduling. Between two releases every thread of the student's
program runs until it either reaches `pause` (and is held here) or blocks on
something else: a lock, a join, a queue. When the whole process tree is blocked
("quiescent", judged by `tree.py`), the held threads form one batch: they were
inside their stages at the same moment, whatever the machine's load. A racy
program therefore shows its race on every run, and a correct one never does.

Time is part of the model. A thread in a timed wait of the student's code
(`child/timed.py`) is a *timer* here: it is blocked, but its timeout can
expire. The coordinator keeps a virtual clock; `run.py` lets the timers with
the earliest deadline expire whenever the program is blocked, before it
releases held threads (the adversary's choice: a slow machine lets a timeout
run out first), at most once per thread between two releases, so that a thread
that polls with a timeout cannot keep the held threads from ever moving.
"""
from __future__ import annotations

import os
import selectors
import socket
import struct
from dataclasses import dataclass, field

from graders.engine import lockgraph

from graders.sandbox import untrusted


@dataclass(frozen=True)
class Arrival:
    """One call of `pause(stage)`: who called it and where."""

    seq: int
    pid: int
    tid: int
    thread: str
    stage: str
    locks: tuple[lockgraph.Held, ...] = ()  # the traced locks this thread held at the pause, in order taken
    now: float = 0.0  # the virtual clock when it came
    step: int = 0  # how many releases and expiries came before it: arrivals of one step saw no time pass


@dataclass(frozen=True)
class TimedWait:
    """A timed wait of the student's code, and how it ended."""

    seq: int
    pid: int
    tid: int
    thread: str
    what: str  # "acquire", "wait", "join" or "sleep"
    seconds: float
    site: str  # the student's line, "consumer.py:40"
    expired: bool  # the grader let its timeout run out (else the wait ended by itself)
    at: float  # the virtual time it ended at (expired) or was started at

    def describe(self) -> str:
        """"the wait at lock.py:12 (timeout 2 s)", in the student's terms."""
        call = "the time.sleep" if self.what == "sleep" else "the wait"
        return f"{call}{f' at {self.site}' if self.site else ''} (timeout {self.seconds:g} s)"


@dataclass
class _Timer:
    seq: int
    pid: int
    tid: int
    thread: str
    what: str
    seconds: float
    site: str
    due: float  # on the virtual clock


@dataclass(frozen=True)
class Batch:
    """Threads released together, and the processes alive at that moment."""

    arrivals: tuple[Arrival, ...]
    alive: frozenset[int]
    now: float = 0.0  # the virtual clock when it was released
    step: int = 0  # this release's number among the releases and expiries: what it lets go arrives at this step

    def at(self, stage: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.stage == stage]


@dataclass
class Trace:
    """Everything the scheduler saw: the grader's trusted record of a run."""

    arrivals: list[Arrival] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    timed_waits: list[TimedWait] = field(default_factory=list)

    def expired(self, pids=None) -> list[TimedWait]:
        """The timed waits whose timeout the grader let run out (of `pids`, if given)."""
        wanted = None if pids is None else set(pids)  # once: `pids` may be an iterator
        return [w for w in self.timed_waits if w.expired and (wanted is None or w.pid in wanted)]

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
            # In the order of `stages` and of the numbers: the order threads reached pause() within
            # one step is the machine's, and the report must read the same on every run.
            inside = {stage: sorted(number[a.pid] for a in batch.arrivals if a.stage == stage) for stage in stages}
            told = [f"inside {stage}: {', '.join(f'{role} {n}' for n in numbers)}"
                    for stage, numbers in inside.items() if numbers]
            if told:
                lines.append(f"step {len(lines) + 1}: " + "; ".join(told))
        return lines


MAX_CONNECTIONS = 4096  # open connections at once: far more than the threads a run may have
MAX_MESSAGE = 4096  # bytes of one message, newline included


def _peer_pid(sock) -> int | None:
    """The pid of the process at the other end, as the kernel tells it (Linux); None where unknown.

    Who calls `pause` is established here, not taken from what the caller says: a
    submission cannot send arrivals in the name of a process that did not call.
    """
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        pid, _, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    except OSError:
        return None
    return pid if pid > 0 else None


def _thread_of(pid: int, claimed) -> int:
    """The thread id the caller claims, if it is a thread of `pid`; else the process's main thread."""
    tid = int(claimed)
    if tid == pid or os.path.isdir(f"/proc/{pid}/task/{tid}"):
        return tid
    return pid


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
        self._peers: dict[socket.socket, int] = {}  # the pid the kernel vouches for
        self.held: dict[socket.socket, Arrival] = {}
        self.timers: dict[socket.socket, _Timer] = {}
        self.expiring: set[socket.socket] = set()  # told their time is up, not yet gone on
        self.now = 0.0  # the virtual clock: it moves only when a timer expires
        self.waited = 0.0  # of which the program spent waiting with nothing else to do
        self.expiries = 0
        self.steps = 0  # releases and expiries so far: the order of what the program could see happen
        self._timer_seq = 0
        self._expired_since_release: set[tuple[int, int]] = set()
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
        self.steps += 1
        batch = Batch(tuple(held), alive, now=self.now, step=self.steps)
        self.trace.batches.append(batch)
        for sock, arrival in list(self.held.items()):
            if arrival in chosen:
                del self.held[sock]
                self._drop(sock, answer=True)
        self._expired_since_release.clear()
        return batch

    def due_timers(self) -> list[socket.socket]:
        """The timers to expire now that the program is blocked: those with the earliest deadline.

        A thread whose timeout already ran out since the last release waits its
        turn behind the held threads; when nothing is held, time simply goes on,
        every timer in the order of its deadline (a poll's next timeout before a
        later one of another thread's).
        """
        waiting = self.timers
        if self.held:
            waiting = {s: t for s, t in self.timers.items() if (t.pid, t.tid) not in self._expired_since_release}
        if not waiting:
            return []
        first = min(t.due for t in waiting.values())
        return sorted((s for s, t in waiting.items() if t.due == first), key=lambda s: waiting[s].seq)

    def waits_past(self, socks, deadline: float) -> bool:
        """Whether expiring these timers would have the program wait, idle, beyond `deadline`.

        Only time that passes while nothing is held counts: a timeout that runs
        out ahead of held threads is the adversary's choice of order, not a wait.
        """
        return not self.held and self.waited + max(self.timers[s].due for s in socks) - self.now > deadline

    def expire(self, socks) -> None:
        """Tell these timers their timeout ran out, and move the virtual clock to their deadline."""
        idle = not self.held
        self.steps += 1
        for sock in socks:
            timer = self.timers.pop(sock)
            if idle:
                self.waited += max(0.0, timer.due - self.now)
            self.now = max(self.now, timer.due)
            self.expiries += 1
            self._expired_since_release.add((timer.pid, timer.tid))
            self._record(timer, expired=True)
            # Until the thread closes the connection it may not have seen the word yet, and
            # could still take what it waited for: the program is not blocked before that.
            try:
                sock.sendall(b"go\n")
            except OSError:
                self._drop(sock, answer=False)
            else:
                self.expiring.add(sock)

    def close(self):
        for sock in list(self.held) + list(self._buffers) + list(self.timers) + list(self.expiring):
            self._drop(sock, answer=False)
        self.held.clear()
        self.timers.clear()
        self.expiring.clear()
        self._selector.close()
        self._server.close()

    def _accept(self):
        try:
            sock, _ = self._server.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # out of descriptors: a flood of connections; the deadline ends it
            return
        pid = _peer_pid(sock)
        if pid is None or len(self._peers) >= MAX_CONNECTIONS:
            sock.close()
            return
        sock.setblocking(False)
        self._buffers[sock] = b""
        self._peers[sock] = pid
        self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, sock):
        try:
            chunk = sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the thread died while held, or its timed wait ended
            self.held.pop(sock, None)
            self.expiring.discard(sock)
            timer = self.timers.pop(sock, None)
            if timer is not None:
                self._record(timer, expired=False)
            self._drop(sock, answer=False)
            return
        if sock in self.timers or sock in self.expiring:  # a timer says nothing more; it only closes
            return
        data = self._buffers.get(sock, b"") + chunk
        if b"\n" not in data:
            if len(data) > MAX_MESSAGE:  # no message of the kit's is this long
                self._drop(sock, answer=False)
            else:
                self._buffers[sock] = data
            return
        self._buffers.pop(sock, None)
        try:
            message = untrusted.loads(data.split(b"\n", 1)[0], max_depth=6)
            if isinstance(message, dict) and "timer" in message:
                self._start_timer(sock, message)
                return
            pid = self._peers[sock]
            arrival = Arrival(
                seq=len(self.trace.arrivals),
                pid=pid,
                tid=_thread_of(pid, message["tid"]),
                thread=str(message["thread"])[:100],
                stage=str(message["stage"])[:200],
                locks=lockgraph.held_locks(message.get("locks")),
                now=self.now,
                step=self.steps,
            )
        except (ValueError, KeyError, TypeError, RecursionError):
            self._drop(sock, answer=False)
            return
        self.trace.arrivals.append(arrival)
        self.held[sock] = arrival

    def _start_timer(self, sock, message):
        seconds = float(message["timer"])
        if not 0 < seconds < 1e9:
            raise ValueError(seconds)
        self._timer_seq += 1
        pid = self._peers[sock]
        self.timers[sock] = _Timer(
            seq=self._timer_seq,
            pid=pid, tid=_thread_of(pid, message["tid"]), thread=str(message["thread"])[:100],
            what=str(message.get("what", ""))[:20], seconds=seconds, site=str(message.get("site", ""))[:200],
            due=self.now + seconds)

    def _record(self, timer: _Timer, expired: bool):
        self.trace.timed_waits.append(TimedWait(
            seq=timer.seq, pid=timer.pid, tid=timer.tid, thread=timer.thread, what=timer.what,
            seconds=timer.seconds, site=timer.site, expired=expired, at=timer.due if expired else self.now))

    def _drop(self, sock, answer: bool):
        self._buffers.pop(sock, None)
        self._peers.pop(sock, None)
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
