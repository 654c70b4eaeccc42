"""The sandbox user: as root, each grading process claims a slot (a uid of its own, held
with a lock file) and runs its children as that uid; and a Python that user may run."""
from __future__ import annotations

import errno
import fcntl
import os
import stat
import subprocess
import sys
import time
from dataclasses import dataclass

from graders import KIT
from graders.sandbox import cleanup, folders, resources

SLOT_UIDS = range(64100, 64164)


SLOT_LOCKS = "/tmp/kit-sandbox"  # fixed: every grading process must agree on it


ENV_SLOT = "KIT_SANDBOX_UID"  # set by grade() for each pytest process it starts


_current: "Slot | None" = None


_claimed = False


_pythons: dict[int, str] = {}


class SandboxError(Exception):
    """The sandbox cannot be set up: grading would not be safe, so it does not start."""


@dataclass
class Slot:
    """One unprivileged uid, held by this process while the lock file stays open."""

    uid: int
    lock_fd: int | None = None

    @property
    def gid(self) -> int:
        return self.uid


def wanted() -> bool:
    """Whether submissions run as a user of their own: as root, unless turned off."""
    return os.geteuid() == 0 and os.environ.get("KIT_SANDBOX", "").lower() not in ("off", "0", "no")


def _uids() -> range:
    text = os.environ.get("KIT_SANDBOX_UIDS", "")
    if text:
        first, _, last = text.partition("-")
        return range(int(first), int(last or first) + 1)
    return SLOT_UIDS


def claim() -> Slot | None:
    """Take a free slot (None when not sandboxing); SandboxError when all are busy."""
    if not wanted():
        return None
    try:
        os.mkdir(SLOT_LOCKS, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(SLOT_LOCKS)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise SandboxError(f"{SLOT_LOCKS} must be a folder of root's that only root can write")
    for _ in range(600):
        for uid in _uids():
            fd = os.open(os.path.join(SLOT_LOCKS, f"{uid}.lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            slot = Slot(uid, fd)
            folders.protect_kit(str(KIT), slot)
            if cleanup.sweep(slot):  # a grader that died left processes behind, and files too, maybe
                cleanup.clean_scratch(slot)
            return slot
        time.sleep(0.1)
    raise SandboxError(f"every sandbox uid ({_uids().start}-{_uids().stop - 1}) is in use; "
                       "set KIT_SANDBOX_UIDS to a larger range")


def release(*slots: Slot | None) -> None:
    """Give slots back, with no process of theirs left and nothing of theirs in the scratch folders."""
    slots = [s for s in slots if s is not None]
    for slot in slots:
        cleanup.sweep(slot)
    cleanup.clean_scratch(*slots)
    for slot in slots:
        try:
            os.rmdir(os.path.join(resources.CPU_GROUPS, f"kit-{slot.uid}"))  # empty now that its processes are gone
        except OSError:
            pass
        if slot.lock_fd is not None:
            os.close(slot.lock_fd)
            slot.lock_fd = None


def current() -> Slot | None:
    """This process's slot: the one grade() handed down, or one claimed now for good."""
    global _current, _claimed
    if not _claimed:
        given = os.environ.get(ENV_SLOT)
        if given and wanted():
            _current = Slot(int(given))
            if os.environ.get("KIT_SANDBOX_PYTHON"):  # grade() found it already
                _pythons[_current.uid] = os.environ["KIT_SANDBOX_PYTHON"]
        else:
            _current = claim()
        _claimed = True
    return _current


def env(slot: Slot | None) -> dict:
    """What a grading process started by grade() needs to know about its slot (and finds it can use)."""
    return {ENV_SLOT: str(slot.uid), "KIT_SANDBOX_PYTHON": python(slot)} if slot is not None else {}


def python(slot: Slot | None) -> str:
    """The interpreter a run starts: the grader's own, or one the slot user can run."""
    if slot is None:
        return sys.executable
    if slot.uid not in _pythons:
        _pythons[slot.uid] = _find_python(slot)
    return _pythons[slot.uid]


def _find_python(slot: Slot) -> str:
    """The grader's own Python if the slot user may run it; else the same version elsewhere; else any 3.11+."""
    version = "%d.%d" % sys.version_info[:2]
    same = [os.environ.get("KIT_SANDBOX_PYTHON"), sys.executable, os.path.realpath(sys.executable),
            getattr(sys, "_base_executable", None),
            *(os.path.join(d, f"python{version}") for d in ("/usr/local/bin", "/usr/bin"))]
    other = [os.path.join(d, "python3") for d in ("/usr/local/bin", "/usr/bin")]
    tried = []
    for candidates, wanted_version in ((same, f"== {sys.version_info[:2]}"), (other, ">= (3, 11)")):
        check = f"import sys, json, multiprocessing; assert sys.version_info[:2] {wanted_version}"
        for candidate in dict.fromkeys(c for c in candidates if c and c not in tried):
            tried.append(candidate)
            try:
                done = subprocess.run([candidate, "-I", "-c", check], user=slot.uid, group=slot.gid,
                                      extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin"},
                                      capture_output=True, timeout=60)
            except PermissionError as error:
                if error.errno == errno.EPERM:  # setuid refused: not the candidate's fault
                    raise SandboxError(f"cannot switch to the sandbox user (uid {slot.uid}): {error}. Without "
                                       "that capability, grade trusted code only, with KIT_SANDBOX=off") from None
                continue
            except (OSError, subprocess.SubprocessError):
                continue
            if done.returncode == 0:
                return candidate
    raise SandboxError(f"no Python 3.11 or newer that the sandbox user (uid {slot.uid}) may run: tried "
                       f"{', '.join(tried)}. Set KIT_SANDBOX_PYTHON to one it can reach, or install "
                       f"python{version} for all users.")
