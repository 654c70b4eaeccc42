"""Nothing a run made outlives it: every process of the slot user killed, and what it left
in the scratch folders and System V IPC removed."""
from __future__ import annotations

import errno
import os
import shutil
import signal
import time
from typing import TYPE_CHECKING

from graders.sandbox import procstat

if TYPE_CHECKING:
    from graders.sandbox.users import Slot


SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")  # where any user may leave files behind


_IPC_RMID = 0


def sweep(slot: Slot | None) -> int:
    """Kill every process of the slot's uid (after every run); how many there were."""
    return _kill_all_of(slot) if slot is not None else 0


def clean_scratch(*slots: Slot | None) -> None:
    """Remove what the slots' uids left in the shared scratch folders (once per grading: it takes a while)."""
    uids = {s.uid for s in slots if s is not None}
    if not uids:
        return
    for folder in SCRATCH:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid not in uids:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                continue
    for kind, remove in (("shm", _remove_shm), ("sem", _remove_sem), ("msg", _remove_msg)):
        for ipc_id, _ in sysv_objects(kind, uids):
            remove(ipc_id)


def sysv_objects(kind: str, uids) -> list[tuple[int, int]]:
    """(id, size in bytes or 0) of the System V IPC objects of `kind` owned by `uids`."""
    try:
        with open(f"/proc/sysvipc/{kind}") as f:
            header, *rows = f.read().splitlines()
    except OSError:
        return []
    columns = header.split()
    found = []
    for row in rows:
        values = dict(zip(columns, row.split()))
        try:
            if int(values["uid"]) in uids:
                found.append((int(values[columns[1]]), int(values.get("size", 0))))
        except (KeyError, ValueError):
            continue
    return found


def _libc():
    import ctypes
    return ctypes.CDLL(None, use_errno=True)


def _remove_shm(ipc_id):
    _libc().shmctl(ipc_id, _IPC_RMID, None)


def _remove_sem(ipc_id):
    _libc().semctl(ipc_id, 0, _IPC_RMID)


def _remove_msg(ipc_id):
    _libc().msgctl(ipc_id, _IPC_RMID, None)


def _kill_all_of(slot: Slot, patience: float = 120.0) -> int:
    """Kill until none is left: a loaded machine takes its time to end a killed process, so
    there is no count of rounds to run out of, only `patience` for one that never dies."""
    killed = 0
    give_up = time.monotonic() + patience
    while True:
        pids = _pids_of(slot.uid)
        if not pids:
            break
        if time.monotonic() > give_up:
            raise RuntimeError(f"processes of sandbox user {slot.uid} would not die: {pids}")
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        killed += len(pids)
        time.sleep(0.02)
        _reap(pids)
    return killed


def _pids_of(uid: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status", "rb") as f:
                    for line in f:
                        if line.startswith(b"Uid:"):
                            real = int(line.split()[1])
                            break
                    else:
                        continue
                if real == uid and not _is_zombie_of_others(name):
                    pids.append(int(name))
            except (OSError, ValueError):
                continue
    return pids


def _is_zombie_of_others(pid: str) -> bool:
    """A zombie we cannot reap (another process's child) is dead already: leave it. Not so a
    process whose first thread has ended while others still run (or are still dying)."""
    fields = procstat.stat_fields(pid)
    try:
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return True
    if fields is None:
        return True
    return fields[procstat.STATE] == b"Z" and int(fields[procstat.PARENT]) != os.getpid() and threads <= 1


def _reap(pids) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except OSError as error:
            if error.errno != errno.ECHILD:
                raise
