"""The processes of one check run: who they are, whether all of them are
blocked, their stacks, and how to end every one of them.

The grading process makes itself a child subreaper, so a process that the
submission orphans (a double fork, a `setsid()`) is re-parented to it and stays
in view. Every process of a run also carries a tag in its environment, a last
net for the final sweep.

multiprocessing starts processes of its own that the student never asked for:
the resource tracker (a spawn or forkserver context starts it, under any start
method) and a forkserver's server. They are not the student's processes, so
`members()` leaves them out of every count a verdict rests on; they are still
watched for being busy, and killed with the rest. They are told by what the
grader reads in /proc itself, never by what the program says: the interpreter
the run started with, running exactly the command line multiprocessing gives
them, and not forked from a process with that same command line (a forkserver's
children, the student's processes, are).
"""
from __future__ import annotations

import ctypes
import os
import platform
import re
import signal
import time

import psutil

from graders.sandbox import procstat, untrusted

_PR_SET_CHILD_SUBREAPER = 36

# Thread states that mean "cannot move until something else happens".
_BLOCKED_STATES = {"S", "T", "t", "Z", "X", "I", "P"}

# System calls that wait with a time limit, by machine, with the index of the
# timeout argument and the value that means "no limit". A thread in one of
# these can wake by itself, so a program whose threads wait like this is slow,
# not stuck.
_TIMED_WAITS = {
    "x86_64": {202: (3, 0), 35: (0, None), 230: (2, None), 7: (2, -1), 271: (2, 0),
               23: (4, 0), 270: (4, 0), 232: (3, -1), 281: (3, -1), 441: (3, 0)},
    "aarch64": {98: (3, 0), 101: (0, None), 115: (2, None), 73: (2, 0),
                72: (4, 0), 22: (3, -1), 441: (3, 0)},
}.get(platform.machine(), {})


# The `-c` code multiprocessing runs its helpers with (multiprocessing/resource_tracker.py and
# forkserver.py, Python 3.11 to 3.14): the whole argument must match.
_HELPER_CODE = re.compile(r"from multiprocessing\.resource_tracker import main;\s?main\(\d+\)"
                          r"|from multiprocessing\.forkserver import main; main\([^;]*\)")

# How long the final kill may wait for every process of a run to be gone before the grading fails
# as a bug of the kit, rather than return with something of the run still alive.
KILL_PATIENCE = 120.0


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux); False where the system has no such thing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _thread_states(pid: int) -> list[tuple[int, str]]:
    """(thread id, state letter) for every thread of `pid`; [] when it is gone."""
    states = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []
    except OSError:
        return [(pid, _psutil_state(pid))]
    for tid in tids:
        fields = procstat.stat_fields(pid, tid)
        if fields:
            states.append((int(tid), fields[procstat.STATE][:1].decode()))
    return states


def _psutil_state(pid: int) -> str:
    try:
        status = psutil.Process(pid).status()
    except psutil.Error:
        return "Z"
    return "S" if status in ("sleeping", "stopped", "zombie", "idle", "waiting") else "R"


def _waits_with_time_limit(pid: int, tid: int) -> bool:
    """Whether the thread sleeps or waits with a timeout (unknown counts as yes)."""
    try:
        with open(f"/proc/{pid}/task/{tid}/syscall") as f:
            fields = f.read().split()
    except OSError:
        return True
    if not fields or fields[0] in ("running", "-1"):
        return False
    rule = _TIMED_WAITS.get(int(fields[0]))
    if rule is None:  # a wait with no time limit: read, wait4, accept, ...
        return False
    index, unlimited = rule
    if unlimited is None:
        return True
    try:
        value = int(fields[1 + index], 16)
    except (IndexError, ValueError):
        return True
    if unlimited == -1:
        return value != 0xFFFFFFFFFFFFFFFF and value < 0x80000000
    return value != 0


class ProcessTree:
    """All processes that descend from the grading process during one run."""

    def __init__(self, root_pid: int, tag: str, adopts_orphans: bool, outside=()):
        self.root_pid = root_pid
        self.outside = set(outside)  # the zygotes that fork runs (engine/zygote.py): ours, not the run's
        self.tag = tag
        self.adopts_orphans = adopts_orphans
        self._me = psutil.Process()
        self._exe = _exe(root_pid)  # the run's interpreter: helpers are started with the same one
        self.helpers: list[int] = []  # multiprocessing's own processes, as the last members() saw them

    def members(self) -> list[int]:
        """Pids of the student's processes: every descendant of the grading process (the run and
        what it adopted) but multiprocessing's own helpers, which `helpers` lists."""
        everyone = self.everyone()
        looks = {pid: argv for pid in everyone if pid != self.root_pid
                 for argv in [_helper_argv(pid, self._exe)] if argv is not None}
        # A forkserver's children are forked from it, command line and all: they are the student's.
        self.helpers = [pid for pid, argv in looks.items() if looks.get(_parent(pid)) != argv]
        if not self.helpers:
            return everyone
        helpers = set(self.helpers)
        return [pid for pid in everyone if pid not in helpers]

    def everyone(self) -> list[int]:
        """Pids of every descendant of the grading process, helpers included."""
        found = _descendants(self._me.pid)
        if found is None:
            try:
                found = [p.pid for p in self._me.children(recursive=True)]
            except psutil.Error:
                found = []
        return [pid for pid in found if pid not in self.outside]

    def busy(self, members=None) -> bool:
        """True while some thread of the run can still move on its own (a helper's too: a
        forkserver forking a student's process is not a quiet program)."""
        for pid in self._with_helpers(members):
            for _, state in _thread_states(pid):
                if state not in _BLOCKED_STATES:
                    return True
        return False

    def stopped(self, members=None) -> list[int]:
        """Processes of the run that are stopped (SIGSTOP, SIGTSTP): they move only if continued."""
        found = []
        for pid in members if members is not None else self.members():
            states = {state for _, state in _thread_states(pid)}
            if states and states <= {"T", "t"}:
                found.append(pid)
        return found

    def _with_helpers(self, members):
        members = self.members() if members is None else members
        return list(members) + [pid for pid in self.helpers if pid not in members]

    def waiting_on_a_clock(self, members=None) -> bool:
        """True when some thread sleeps or waits with a timeout (it will wake)."""
        if not _TIMED_WAITS and platform.system() == "Linux":
            return True
        for pid in self._with_helpers(members):
            for tid, state in _thread_states(pid):
                if state == "S" and _waits_with_time_limit(pid, tid):
                    return True
        return False

    def dump_stacks(self, folder: str, wait: float = 1.0) -> dict[int, str]:
        """Ask every process for its threads' stacks; {pid: faulthandler text}."""
        pids = self.members()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGUSR1)
            except OSError:
                pass
        sizes, end = None, time.monotonic() + wait
        while time.monotonic() < end:
            time.sleep(0.05)
            now = {pid: _size(folder, pid) for pid in pids}
            if now == sizes and all(now.values()):
                break
            sizes = now
        dumps = {}
        for pid in pids:  # the student's processes write these files: a FIFO or a link is refused
            text = untrusted.read_text(os.path.join(folder, f"{pid}.txt"), 200_000)
            if text is not None:
                dumps[pid] = text
        return dumps

    def kill_all(self) -> None:
        """Freeze, then kill, every process of the run, helpers too, and return only once all are gone.

        A process can fork between the walk that found its parent and the signal that kills it,
        and a child can move to us (its parent died) while a walk reads another branch, so one
        empty walk proves little on a loaded machine: the end is two walks in a row that find
        nothing, with every killed process reaped or gone between them. There is no count of
        rounds to run out of, only KILL_PATIENCE for a process that never dies (a bug of the kit).
        """
        give_up = time.monotonic() + KILL_PATIENCE
        empty_walks = 0
        while empty_walks < 2:
            members = _processes(self.everyone())
            if not members and not self.adopts_orphans:
                members = self._tagged_strays()
            if not members:
                empty_walks += 1
                continue
            empty_walks = 0
            if time.monotonic() > give_up:
                raise RuntimeError(f"processes of a run would not die: {[p.pid for p in members]}")
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                for proc in members:
                    try:
                        proc.send_signal(sig)
                    except psutil.Error:
                        pass
            try:
                os.killpg(self.root_pid, signal.SIGKILL)
            except OSError:
                pass
            psutil.wait_procs(members, timeout=0.5)
            self._reap()
        self.helpers = []

    def _tagged_strays(self) -> list[psutil.Process]:
        """Processes of this run that escaped the tree (only where we could not adopt)."""
        strays = []
        for proc in psutil.process_iter():
            try:
                if proc.pid != self._me.pid and proc.environ().get("KIT_RUN_TAG") == self.tag:
                    strays.append(proc)
            except psutil.Error:
                continue
        return strays

    def _reap(self):
        """Collect adopted zombies (the runner itself is waited on by Popen)."""
        for pid in self.everyone():
            if pid == self.root_pid:
                continue
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            except OSError:
                pass


def _descendants(root: int) -> list[int] | None:
    """Every descendant of `root`, read from /proc/PID/task/TID/children; None where
    the kernel does not offer those files (then psutil scans all processes, slower)."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            if pid == root:  # no /proc to read: psutil scans every process instead
                return None
            continue  # it ended while we looked: its children are ours now, the next walk sees them
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except FileNotFoundError:
                if pid == root and tid == str(root):
                    return None
                continue
            except ProcessLookupError:  # the process ended while we read its children
                continue
            found += children
            queue += children
    return found


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def _helper_argv(pid: int, exe: str | None) -> bytes | None:
    """The command line of `pid` if it is the one multiprocessing starts a helper with: the run's
    interpreter, its flags only, then `-c` and exactly the code of the resource tracker or of a
    forkserver; else None."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        return None
    if b"-c\0" not in raw or b"multiprocessing." not in raw:  # the common case, at once
        return None
    argv = raw.split(b"\0")
    if argv and argv[-1] == b"":
        argv = argv[:-1]
    if len(argv) < 3 or argv[-2] != b"-c" or not all(a.startswith(b"-") for a in argv[1:-2]):
        return None
    if _HELPER_CODE.fullmatch(argv[-1].decode(errors="replace")) is None or exe is None or _exe(pid) != exe:
        return None
    return raw


def _parent(pid: int) -> int | None:
    fields = procstat.stat_fields(pid)
    try:
        return int(fields[procstat.PARENT])
    except (TypeError, ValueError, IndexError):
        return None


def _processes(pids: list[int]) -> list[psutil.Process]:
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            pass
    return procs


def _size(folder: str, pid: int) -> int:
    try:
        return os.lstat(os.path.join(folder, f"{pid}.txt")).st_size
    except OSError:
        return 0
