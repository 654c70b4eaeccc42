"""What a run leaves in /dev/shm when the grader is an ordinary user: multiprocessing's own files.

Under spawn and forkserver, multiprocessing gives its semaphores names (and
SharedMemory its segments), files in /dev/shm, and its resource tracker
unlinks them when the program ends. A run that the grader kills (at a hang,
or with processes left over) takes the tracker with it, and the files stay.
As root they are the slot user's, removed with the slot
(`cleanup.clean_scratch`); as an ordinary user they are the grader's own, so
they are told by their name (multiprocessing's), their age (made since the
run began) and their use (no process maps them any more: a grading running
beside this one maps the ones it uses). A file a submission made with any
other name is its own business, and stays (see the README's sandbox section).
"""
from __future__ import annotations

import os
import re
import stat

SHM = "/dev/shm"
# multiprocessing/synchronize.py's "/mp-" and 8 of its letters; multiprocessing/shared_memory.py's "/psm_" and hex.
_NAMES = re.compile(r"sem\.mp-[a-z0-9_]{8}|psm_[0-9a-f]{8,}")


def names() -> set[str]:
    try:
        return set(os.listdir(SHM))
    except OSError:
        return set()


def remove_unused(before: set[str]) -> list[str]:
    """Remove multiprocessing's files of ours made since `before` that no process maps; the paths removed."""
    me = os.geteuid()
    new = []
    for name in names() - before:
        path = os.path.join(SHM, name)
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if _NAMES.fullmatch(name) and stat.S_ISREG(info.st_mode) and info.st_uid == me:
            new.append((path, info.st_ino))
    if not new:
        return []
    mapped = _mapped()
    removed = []
    for path, inode in new:
        if inode not in mapped:
            try:
                os.unlink(path)
                removed.append(path)
            except OSError:
                continue
    return removed


def _mapped() -> set[int]:
    """The inodes of the files in /dev/shm that some process we may look at maps.

    By inode, not by name: sem_open() maps a file under a name of its own, then
    links it to the semaphore's, so its maker's map names a file long gone."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/maps", "rb") as f:
                for line in f:
                    if b" /dev/shm/" in line:
                        found.add(int(line.split(None, 5)[4]))
        except (OSError, ValueError, IndexError):
            continue
    return found
