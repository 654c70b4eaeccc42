"""The sandbox around a submission: resource limits, and a user of its own.

Every child process that runs student code starts under limits on processes,
memory, open files, file size (its stdout and stderr are files) and CPU time;
the engine adds the wall clock (the deadline) and a cap on the memory of the
whole process tree (`MemoryWatch`).

When the grader runs as root (a container, Gradescope, CI), the child also
runs as an unprivileged user: a *slot*, one uid from SLOT_UIDS, which one
grading holds alone (a lock file) for as long as it runs. So the submission
cannot signal the grader, write the kit, its results or another student's, or
read solutions/ (made private, see `protect_kit`), and the process limit
counts its own processes only: a fork bomb in one submission never starves
another graded at the same time. After every run, every process of the slot
is killed (`sweep`), whatever the tree walk found.

As an ordinary user the limits still apply, but the submission runs as that
user. Settings (environment): KIT_SANDBOX=off runs submissions as the
grader's own user even as root (trusted code only); KIT_SANDBOX_UIDS="A-B"
picks the uids of the slots; KIT_SANDBOX_PYTHON names the interpreter the
slot user runs, when the grader's own is out of its reach (under /root, say).
"""
from __future__ import annotations

import errno
import fcntl
import glob
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from graders import KIT
from graders.sandbox import procstat, untrusted
from dataclasses import dataclass

MAX_PROCESSES = 384  # processes and threads of one run (RLIMIT_NPROC): 100 users with a Manager need ~205
MAX_MEMORY = 1 << 30  # bytes of heap and anonymous memory per process (RLIMIT_DATA)
MAX_TREE_MEMORY = 2 << 30  # resident bytes of a run's whole process tree
MAX_OPEN_FILES = 512  # per process (RLIMIT_NOFILE)
MAX_FILE_SIZE = 16 << 20  # bytes of any file a process writes, its stdout and stderr included
MEMORY_LOOK = 0.1  # seconds between two looks at the tree's memory
RESULT_CAP = 4 << 20  # bytes of the result file the grader reads

SLOT_UIDS = range(64100, 64164)
SLOT_LOCKS = "/tmp/kit-sandbox"  # fixed: every grading process must agree on it
ENV_SLOT = "KIT_SANDBOX_UID"  # set by grade() for each pytest process it starts

_current: "Slot | None" = None
_claimed = False
_pythons: dict[int, str] = {}
_checks_tempdir: str | None = None
# Run folders hold the program's sockets, whose paths may not pass 107 bytes:
# grade() hands down its own, short, temporary folder for them.
_runs_dir = os.environ.get("KIT_RUNS_DIR") or tempfile.gettempdir()


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
            protect_kit(str(KIT), slot)
            if sweep(slot):  # a grader that died left processes behind, and files too, maybe
                clean_scratch(slot)
            return slot
        time.sleep(0.1)
    raise SandboxError(f"every sandbox uid ({_uids().start}-{_uids().stop - 1}) is in use; "
                       "set KIT_SANDBOX_UIDS to a larger range")


def release(*slots: Slot | None) -> None:
    """Give slots back, with no process of theirs left and nothing of theirs in the scratch folders."""
    slots = [s for s in slots if s is not None]
    for slot in slots:
        sweep(slot)
    clean_scratch(*slots)
    for slot in slots:
        try:
            os.rmdir(os.path.join(CPU_GROUPS, f"kit-{slot.uid}"))  # empty now that its processes are gone
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


def popen_options(slot: Slot | None, deadline: float) -> dict:
    """Keyword arguments for the Popen of a run: its user and its limits."""
    options = {"preexec_fn": _limiter(slot, deadline)}
    if slot is not None:
        options.update(user=slot.uid, group=slot.gid, extra_groups=[])
    return options


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


def _limiter(slot: Slot | None, deadline: float):
    processes = MAX_PROCESSES if slot is not None else _user_tasks() + MAX_PROCESSES
    cpu = int(deadline * 3) + 30
    wanted_limits = [(resource.RLIMIT_NPROC, processes), (resource.RLIMIT_DATA, MAX_MEMORY),
                     (resource.RLIMIT_NOFILE, MAX_OPEN_FILES), (resource.RLIMIT_FSIZE, MAX_FILE_SIZE),
                     (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_CORE, 0)]

    def limit():  # runs in the child, after it became the slot user, before exec
        os.nice(NICE)
        for which, value in wanted_limits:
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))
    return limit


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


SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")  # where any user may leave files behind
MEMORY_FOLDERS = ("/dev/shm", "/run/lock")  # files there are memory (tmpfs), not disk
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
        for ipc_id, _ in _sysv_objects(kind, uids):
            remove(ipc_id)


def _sysv_objects(kind: str, uids) -> list[tuple[int, int]]:
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


def memory_in_files(uid: int) -> int:
    """Bytes the uid holds in memory-backed files and shared memory segments, which no process counts."""
    total = sum(size for _, size in _sysv_objects("shm", {uid}))
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
    return _make_private(paths, follow=True) if wanted() else []


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
