"""The files a run may reach, and the ones it may not: its run folder, the staged submission
and library, the graders' temporary files handed over before each run, the result it
writes, and the kit's private folders and checks made unreadable to the sandbox user."""
from __future__ import annotations

import atexit
import glob
import os
import shutil
import stat
import tempfile
from typing import TYPE_CHECKING

from graders.sandbox import untrusted, users  # users.wanted(); users imports this module's names

if TYPE_CHECKING:
    from graders.sandbox.users import Slot


RESULT_CAP = 4 << 20  # bytes of the result file the grader reads


_checks_tempdir: str | None = None


# Run folders hold the program's sockets, whose paths may not pass 107 bytes:
# grade() hands down its own, short, temporary folder for them.
_runs_dir = os.environ.get("KIT_RUNS_DIR") or tempfile.gettempdir()


def runs_dir() -> str:
    """Where run folders go: the system's temporary folder, never the shared one."""
    return _runs_dir


def open_run(folder: str, slot: Slot | None, socket_path: str) -> dict[str, str]:
    """Make a run folder usable by the slot user, and only by it; its private folders by name."""
    names = {name: os.path.join(folder, name) for name in ("work", "stacks", "out", "tmp")}
    for path in names.values():
        os.makedirs(path, exist_ok=True)
    if slot is not None:
        os.chown(folder, 0, slot.gid)
        os.chmod(folder, 0o710)
        for path in names.values():
            os.chown(path, slot.uid, slot.gid)
            os.chmod(path, 0o700)
        os.chown(socket_path, slot.uid, slot.gid)
        os.chmod(socket_path, 0o600)
        job = os.path.join(folder, "job.json")
        if os.path.exists(job):
            os.chown(job, 0, slot.gid)
            os.chmod(job, 0o640)
    return names


_NOT_FOR_THE_CHILD = shutil.ignore_patterns("__pycache__", "*.pyc", "test_*.py", "bank.toml")


def readable_copies(folder: str, slot: Slot | None, *paths: str) -> list[str]:
    """Each folder as the slot user can read it: itself, or a copy in the run folder if it cannot.

    grade() stages submissions where that user can read them; a caller that
    made its folders with `tempfile.mkdtemp` (mode 700, root's) gets copies.
    """
    if slot is None:
        return list(paths)
    out = []
    for n, path in enumerate(paths):
        links = [e.path for e in os.scandir(path) if e.is_symlink()]
        if _reachable(path, slot) and all(_reachable(link, slot) for link in links):
            out.append(path)
            continue
        copy = os.path.join(folder, f"given-{n}", os.path.basename(path.rstrip(os.sep)) or "folder")
        shutil.copytree(path, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # links followed
        for root, dirs, files in os.walk(os.path.dirname(copy)):
            os.chmod(root, 0o755)
            for name in files:
                if not os.path.islink(os.path.join(root, name)):
                    os.chmod(os.path.join(root, name), 0o644)
        out.append(copy)
    return out


_kit_copies: dict[tuple[str, int], str] = {}


def readable_kit(lib: str, slot: Slot | None) -> str:
    """The grader library folder as the slot user can read it: itself, or one copy for this process.

    All the process's runs share the copy, and its zygote (engine/zygote.py) loads the kit from
    it, so a module a run imports late comes from the same folder as those the zygote loaded.
    grade() stages the library where the slot user can read it; the kit's own tests may not.
    """
    if slot is None:
        return lib
    links = [e.path for e in os.scandir(lib) if e.is_symlink()]
    if _reachable(lib, slot) and all(_reachable(link, slot) for link in links):
        return lib
    key = (lib, slot.uid)
    if key not in _kit_copies:
        parent = tempfile.mkdtemp(prefix="kit-lib-", dir=runs_dir())
        copy = os.path.join(parent, "lib")
        shutil.copytree(lib, copy, ignore=_NOT_FOR_THE_CHILD)  # links followed
        for root, dirs, files in os.walk(parent):
            os.chmod(root, 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
        atexit.register(shutil.rmtree, parent, True)
        _kit_copies[key] = copy
    return _kit_copies[key]


def _reachable(path: str, slot: Slot) -> bool:
    """Whether the slot user may enter every folder on the way to `path` and list `path` itself."""
    path = os.path.realpath(path)
    parts = path.split(os.sep)
    for i in range(1, len(parts) + 1):
        here = os.sep + os.path.join(*parts[1:i]) if i > 1 else os.sep
        try:
            info = os.stat(here)
        except OSError:
            return False
        needed = 0o5 if here == path else 0o1  # read and enter the folder itself; enter the others
        if info.st_uid == slot.uid:
            bits = info.st_mode >> 6
        elif info.st_gid == slot.gid:
            bits = info.st_mode >> 3
        else:
            bits = info.st_mode
        if bits & needed != needed:
            return False
    return True


def child_env(names: dict[str, str]) -> dict:
    return {"TMPDIR": names["tmp"], "HOME": names["work"]}


def open_stage(folder: str, stage: str, slot: Slot | None) -> None:
    """Let the slot user read the staged submission, and nothing else of the grading folder.

    The stage's lib/graders links to the kit; where the kit is out of that
    user's reach (a clone under /root, say), the link becomes a copy of the
    engine and the probes (not the checks: the program never needs them).
    """
    if slot is None:
        return
    for entry in os.scandir(os.path.join(stage, "lib")):
        if entry.is_symlink() and not _reachable(entry.path, slot):
            target = os.path.realpath(entry.path)
            os.unlink(entry.path)
            shutil.copytree(target, entry.path, ignore=_NOT_FOR_THE_CHILD)
    os.chown(folder, 0, slot.gid)
    os.chmod(folder, 0o710)
    os.chown(stage, 0, slot.gid)
    os.chmod(stage, 0o750)
    for root, dirs, files in os.walk(stage):
        for name in dirs + files:
            path = os.path.join(root, name)
            if not os.path.islink(path):  # lib/graders links to the kit: leave the kit alone
                os.chmod(path, 0o755 if name in dirs else 0o644)


def read_result(path: str) -> str | None:
    """The text of a file the child wrote: never through a link, never more than RESULT_CAP."""
    data = untrusted.read_bytes(path, RESULT_CAP)
    if data is None or len(data) > RESULT_CAP:
        return None
    return data.decode(errors="replace")


def checks_tempdir(slot: Slot | None) -> str | None:
    """Point this grading process's temporary files at a folder the slot user may use.

    Graders make files for the child (a ticket file, say) with `tempfile`;
    they land here, and `hand_over` gives them to the slot user before each run.
    """
    global _checks_tempdir
    if _checks_tempdir is not None:
        return _checks_tempdir
    # Made without a sandbox too: removing one folder at the end is how the
    # graders' files never outlive the grading.
    _checks_tempdir = tempfile.mkdtemp(prefix="kit-checks-")
    if slot is not None:
        os.chown(_checks_tempdir, slot.uid, slot.gid)
    tempfile.tempdir = _checks_tempdir
    return _checks_tempdir


def remove_checks_tempdir() -> None:
    global _checks_tempdir
    if _checks_tempdir is not None:
        shutil.rmtree(_checks_tempdir, ignore_errors=True)
        tempfile.tempdir = None
        _checks_tempdir = None


def hand_over(slot: Slot | None) -> None:
    """Give the slot user what the grader made in the shared folder since the last run.

    Only folders and single-link regular files of the grader's own are given,
    never through a link: no process of the slot is alive at this point, so
    nothing can swap an entry between the look and the chown.
    """
    if slot is None or _checks_tempdir is None:
        return
    me = os.geteuid()
    for root, dirs, files in os.walk(_checks_tempdir):
        for name in dirs + files:
            path = os.path.join(root, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if info.st_uid != me:
                continue
            if stat.S_ISDIR(info.st_mode) or (stat.S_ISREG(info.st_mode) and info.st_nlink == 1):
                os.chown(path, slot.uid, slot.gid, follow_symlinks=False)


KIT_PRIVATE = ("solutions", "tests", ".git")


# The checks, hidden ones among them, and the banks, which name them: the program never needs them.
KIT_PRIVATE_FILES = ("graders/*/test_*.py", "graders/*/bank.toml")


def protect_kit(kit, slot: Slot | None) -> None:
    """Make the kit's private folders and the checks unreadable to the slot user (root only; a no-op otherwise)."""
    if slot is not None:
        paths = [os.path.join(kit, name) for name in KIT_PRIVATE]
        paths += [path for pattern in KIT_PRIVATE_FILES for path in glob.glob(os.path.join(kit, pattern))]
        _make_private(paths, follow=False)


def protect_folders(*paths) -> list[str]:
    """Make folders of the grader's (a class's submissions, its grades) unreadable to every sandbox user.

    Only as root with the sandbox on; returns the folders whose mode changed.
    """
    return _make_private(paths, follow=True) if users.wanted() else []


def _make_private(paths, follow: bool) -> list[str]:
    """chmod go-rwx each folder or file that others may use; the ones changed."""
    changed = []
    for path in paths:
        try:
            info = os.stat(path) if follow else os.lstat(path)
        except OSError:
            continue
        if (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)) and info.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
            changed.append(str(path))
    return changed
