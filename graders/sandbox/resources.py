"""What one run may use: processes, memory, open files, file size and CPU, set as rlimits
when a child starts, a cpu group and a lower priority per slot, and a watch on the memory
of the whole process tree."""
from __future__ import annotations

import os
import resource
from typing import TYPE_CHECKING

from graders.sandbox import procstat
from graders.sandbox.cleanup import sysv_objects

if TYPE_CHECKING:
    from graders.sandbox.users import Slot

MAX_PROCESSES = 384  # processes and threads of one run (RLIMIT_NPROC): 100 users with a Manager need ~205


MAX_MEMORY = 1 << 30  # bytes of heap and anonymous memory per process (RLIMIT_DATA)


MAX_TREE_MEMORY = 2 << 30  # resident bytes of a run's whole process tree


MAX_OPEN_FILES = 512  # per process (RLIMIT_NOFILE)


MAX_FILE_SIZE = 16 << 20  # bytes of any file a process writes, its stdout and stderr included


MEMORY_LOOK = 0.1  # seconds between two looks at the tree's memory


def confinement(slot: Slot | None, deadline: float) -> dict:
    """What a run's first process does to itself before the student's code (child/confine.py):
    its user, its CPU group, its priority and its limits, as data."""
    processes = MAX_PROCESSES if slot is not None else _user_tasks() + MAX_PROCESSES
    limits = [(resource.RLIMIT_NPROC, processes), (resource.RLIMIT_DATA, MAX_MEMORY),
              (resource.RLIMIT_NOFILE, MAX_OPEN_FILES), (resource.RLIMIT_FSIZE, MAX_FILE_SIZE),
              (resource.RLIMIT_CPU, int(deadline * 3) + 30), (resource.RLIMIT_CORE, 0)]
    return {"uid": slot.uid if slot is not None else None, "gid": slot.gid if slot is not None else None,
            "cpu_tasks": _cpu_group_tasks(slot), "nice": NICE, "rlimits": [list(pair) for pair in limits]}


CPU_GROUPS = "/sys/fs/cgroup/cpu"  # cgroup v1's cpu controller, where the system mounts it


NICE = 5  # student code runs below the grader, so the scheduler and its clock are never starved


def join_cpu_share(slot: Slot | None, pid: int) -> bool:
    """Put a run's first process, and so all it starts, in the slot's CPU group.

    Every group has the same weight, so a grading gets its share of the cores
    however many processes its submission spins up, and a classmate graded at
    the same time keeps theirs. Root with a writable cgroup v1 cpu controller
    only (not in most containers): elsewhere the lower priority is all there is.
    """
    if slot is None:
        return False
    group = os.path.join(CPU_GROUPS, f"kit-{slot.uid}")
    try:
        os.makedirs(group, exist_ok=True)
        with open(os.path.join(group, "tasks"), "w") as f:
            f.write(str(pid))
    except OSError:
        return False
    return True


def _cpu_group_tasks(slot: Slot | None) -> str | None:
    """The `tasks` file of the slot's CPU group, so a run's first process joins the group itself before
    the student's code: nothing it starts, however early, is outside. None where the system gives no
    such group (see join_cpu_share)."""
    if slot is None:
        return None
    tasks = os.path.join(CPU_GROUPS, f"kit-{slot.uid}", "tasks")
    try:
        os.makedirs(os.path.dirname(tasks), exist_ok=True)
    except OSError:
        return None
    return tasks if os.path.exists(tasks) else None


def _user_tasks() -> int:
    """Threads of every process of this user: what RLIMIT_NPROC counts."""
    me, count = os.getuid(), 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid != me:
                    continue
                count += int(procstat.stat_fields(name)[procstat.THREADS])
            except (OSError, ValueError, IndexError, TypeError):
                continue
    return count


MEMORY_FOLDERS = ("/dev/shm", "/run/lock")  # files there are memory (tmpfs), not disk


def memory_in_files(uid: int) -> int:
    """Bytes the uid holds in memory-backed files and shared memory segments, which no process counts."""
    total = sum(size for _, size in sysv_objects("shm", {uid}))
    for folder in MEMORY_FOLDERS:
        for root, dirs, files in os.walk(folder):
            for name in files + dirs:
                try:
                    info = os.lstat(os.path.join(root, name))
                except OSError:
                    continue
                if info.st_uid == uid:
                    total += info.st_blocks * 512
    return total


class MemoryWatch:
    """Whether a run's whole process tree holds more than MAX_TREE_MEMORY, looked at now and then."""

    def __init__(self, cap: int = MAX_TREE_MEMORY, uid: int | None = None):
        self.cap = cap
        self.uid = uid  # the sandbox user's files in /dev/shm count too; as any other user they cannot be told
        self.last = 0.0
        self.peak = 0

    def exceeded(self, members, now: float, at_once: bool = False) -> bool:
        if now - self.last < MEMORY_LOOK and not at_once:
            return False
        self.last = now
        total = 0
        for member in members:  # pids, or psutil processes
            try:
                with open(f"/proc/{getattr(member, 'pid', member)}/statm", "rb") as f:
                    total += int(f.read().split()[1]) * _PAGE
            except (OSError, ValueError, IndexError):
                continue
        if self.uid is not None:
            total += memory_in_files(self.uid)
        self.peak = max(self.peak, total)
        return total > self.cap


_PAGE = os.sysconf("SC_PAGE_SIZE")


def describe_bytes(n: int) -> str:
    return f"{n / (1 << 30):g} GiB" if n >= 1 << 30 else f"{n / (1 << 20):g} MiB"
