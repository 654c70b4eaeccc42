"""Hostile submissions for `lock`: each tries to cheat, break out or wreck the grader.

Each is the stub (or, where reading the reference would be the cheat, a file
that becomes the solution only if it can read solutions/) with some code
added at import or at the start of sell(). Every one must end as a failing
grade within its deadlines, leave nothing running, and change nothing.
`MARK` is put in every hostile process's environment, so a test can look for
survivors.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from graders.engine import manifest
from graders.engine.manifest import KIT

LOCK = manifest.load()["lock"]
ENTRY = '    """Start one process per buyer; result[i] is True when buyer i got a ticket."""\n'


@dataclass(frozen=True)
class Hostile:
    name: str
    about: str
    where: str  # "import" or "entry"
    code: str
    expect: str  # a piece of the failure it must get; " | " separates pieces that each will do
    needs_sandbox_user: bool = False  # only holds when the grader runs as root

    def source(self, mark: str) -> str:
        text = (LOCK.exercise_dir / LOCK.stub).read_text()
        code = f"import os as _os\n_os.environ['KIT_HOSTILE'] = {mark!r}\n" + textwrap.dedent(self.code).strip() + "\n"
        if self.where == "import":
            return text + "\n\n" + code + "\n"
        assert text.count(ENTRY) == 1
        return text.replace(ENTRY, ENTRY + textwrap.indent(code, "    ") + "\n")


_KIT = "_kit = _os.path.realpath(_os.path.join(_os.path.dirname(__import__('graders').__file__), '..'))\n"

_ANCESTORS = """
def _ancestors():
    pid = _os.getppid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                yield [a.decode(errors="replace") for a in f.read().split(b"\\0")]
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            return
"""

HOSTILES = [
    Hostile("exit_at_import", "os._exit(0) at import", "import", "_os._exit(0)", "ended its own process"),
    Hostile("sys_exit_at_import", "sys.exit(0) at import", "import", "import sys\nsys.exit(0)", "raised SystemExit"),
    Hostile("exit_in_entry", "os._exit(0) inside sell()", "entry", "_os._exit(0)", "ended its own process"),
    Hostile("sys_exit_in_entry", "sys.exit(0) inside sell()", "entry", "import sys\nsys.exit(0)", "raised SystemExit"),
    Hostile("patches_engine", "patches pytest, hypothesis and the engine, on disk and in memory", "import",
            _KIT + textwrap.dedent("""
            import glob
            targets = glob.glob(_kit + "/graders/engine/*.py") + glob.glob(_kit + "/graders/lock/*.py")
            for name in ("pytest", "_pytest", "hypothesis"):
                targets += glob.glob(_kit + f"/.nox/*/lib/python3*/site-packages/{name}/*.py")
            for path in targets:
                try:
                    with open(path, "a") as f:
                        f.write("\\n# patched by a submission " + _os.environ["KIT_HOSTILE"] + "\\n")
                except OSError:
                    pass
            import sys, graders.child.pause, graders.child.main
            graders.child.pause.Pause.__call__ = lambda self, stage="", *a, **k: None
            graders.child.main._jsonable = lambda value, depth=0: [True] * 8
            sys.modules["pytest"] = sys.modules["hypothesis"] = sys.modules["graders.child.main"]
            """), "0 buyer process(es) called pause('search') | of your program died of an exception",
            needs_sandbox_user=True),  # unpaused buyers race on the file: one may read it half-written
    Hostile("fake_summary", "prints a fake success summary", "import", """
            import sys
            print("lock: 7/7 checks passed, score 100/100")
            print("============================== 7 passed in 0.12s ==============================")
            sys.stderr.write('{"passed": true, "score": 100}\\n')
            """, "buyers were inside buy() at the same time"),
    Hostile("writes_results", "writes a perfect results file wherever the grader keeps one", "import",
            _ANCESTORS + textwrap.dedent("""
            import json
            check = {"name": "buy_is_exclusive", "title": "x", "weight": 1,
                     "runs": [{"start_method": "forkserver", "passed": True, "seconds": 0, "failure": None}]}
            perfect = json.dumps({"exercises": [{"name": "lock", "title": "x", "checks": [check]}],
                                  "mode": "full", "start_methods": ["forkserver"], "seconds": 0})
            targets = ["/autograder/results/results.json"]
            for args in _ancestors():
                for flag in ("--kit-settings", "--json", "--out", "--gradescope"):
                    if flag in args[:-1]:
                        targets.append(args[args.index(flag) + 1])
                if "--kit-settings" in args[:-1]:  # the grading's settings name its results file
                    try:
                        with open(args[args.index("--kit-settings") + 1]) as f:
                            targets.append(json.load(f)["results"])
                    except (OSError, ValueError, KeyError):
                        pass
            for path in targets:
                for name in ("", "/gradebook.csv", "/results.json"):
                    try:
                        with open(path + name, "w") as f:
                            f.write(perfect)
                    except OSError:
                        pass
            """), "buyers were inside buy() at the same time", needs_sandbox_user=True),
    Hostile("fork_bomb", "forks hundreds of processes that call setsid()", "import", """
            import time
            for _ in range(400):
                try:
                    pid = _os.fork()
                except OSError:
                    break
                if pid == 0:
                    _os.setsid()
                    time.sleep(600)
                    _os._exit(0)
            """, "raised BlockingIOError | used more than"),  # the process limit or the tree's memory cap
    Hostile("endless_loop", "loops forever inside sell()", "entry", "while True:\n    pass",
            "did not finish within its deadline"),
    Hostile("allocates_gigabytes", "allocates 8 GB in one go", "entry", "_blob = bytearray(8 << 30)",
            "raised MemoryError"),
    Hostile("allocates_in_processes", "four processes allocate 900 MB each", "entry", """
            import time
            for _ in range(4):
                if _os.fork() == 0:
                    try:
                        _blob = bytearray(900 << 20)
                    except MemoryError:
                        pass
                    time.sleep(600)
                    _os._exit(0)
            time.sleep(600)
            """, "of memory together"),
    Hostile("floods_stdout", "writes 400 MB to stdout", "entry", """
            import sys
            for _ in range(400):
                sys.stdout.write("x" * (1 << 20))
            """, "File too large"),
    Hostile("kills_parent", "kills its parent, its parent's group, everything it can, then its own group",
            "entry", """
            import signal
            for kill in (lambda: _os.kill(_os.getppid(), signal.SIGKILL),
                         lambda: _os.killpg(_os.getpgid(_os.getppid()), signal.SIGKILL),
                         lambda: _os.kill(-1, signal.SIGKILL)):
                try:
                    kill()
                except OSError:
                    pass
            _os.killpg(0, signal.SIGKILL)
            """, "killed by SIGKILL", needs_sandbox_user=True),
    Hostile("reads_solutions", "turns into the reference solution, if it can read solutions/", "import",
            _KIT + _ANCESTORS + textwrap.dedent("""
            kits = [args[args.index("--rootdir") + 1] for args in _ancestors() if "--rootdir" in args[:-1]]
            for kit in [*kits, _kit]:  # the grader's own --rootdir first: graders/ may be a copy
                try:
                    with open(kit + "/solutions/lock/tickets.py") as _f:
                        source = _f.read()
                    break
                except FileNotFoundError:
                    continue
            exec(compile(source, __file__, "exec"))
            """), "raised PermissionError", needs_sandbox_user=True),
]

# Round two: cheats on the trace and on the grader's reading of what the submission leaves behind.
HOSTILES += [
    Hostile("forges_arrivals", "starts idle helpers and sends pause() arrivals in their names, then buys alone",
            "entry", """
            import json as _json, socket as _socket, threading as _threading, time as _time
            _helpers = [multiprocessing.Process(target=_time.sleep, args=(1,)) for _ in range(buyers)]
            for _h in _helpers:
                _h.start()
            def _say(pid, stage):
                with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as _s:
                    _s.connect(_os.environ["KIT_PAUSE_ADDRESS"])
                    _s.sendall(_json.dumps({"pid": pid, "tid": pid, "thread": "MainThread",
                                            "stage": stage}).encode() + b"\\n")
                    _s.recv(16)
            _searching = [_threading.Thread(target=_say, args=(_h.pid, "search")) for _h in _helpers]
            for _t in _searching:
                _t.start()
            for _t in _searching:
                _t.join()
            _result = []
            for _h in _helpers:
                _say(_h.pid, "buy")
                _count = read_count(db_path)
                if _count > 0:
                    write_count(db_path, _count - 1)
                _result.append(_count > 0)
            for _h in _helpers:
                _h.join()
            return _result
            # As an ordinary user the process limit counts every grading of that user at once, so under a
            # class's load the forkserver may fail to start the helpers: the forgery then fails as a crash.
            """, "buyer process(es) called pause('search') | EOFError: unexpected EOF"),
    Hostile("writes_deep_result", "writes its own result file: a list nested 200,000 deep", "entry", """
            import json as _json, sys as _sys
            with open(_sys.argv[1]) as _f:
                _path = _json.load(_f)["result"]
            with open(_path, "w") as _f:
                _f.write('{"value": ' + "[" * 200_000 + "]" * 200_000 + "}")
            _os._exit(0)
            """, "ended its own process"),
    Hostile("fifos_for_stack_dumps", "turns the files the grader reads after a hang into FIFOs, then hangs",
            "entry", """
            import threading as _threading
            _folder = _os.environ["KIT_STACKS_DIR"]
            for _name in _os.listdir(_folder) + [f"{_os.getpid()}.txt", "locks-1.json"]:
                _path = _os.path.join(_folder, _name)
                if _os.path.lexists(_path):
                    _os.unlink(_path)
                _os.mkfifo(_path)
            _threading.Event().wait()
            """, "never finished"),
    Hostile("trickles_connections", "keeps 100 connections to pause() trickling bytes with no newline", "entry", """
            import select as _select, socket as _socket, threading as _threading
            def _trickle():
                while True:
                    try:
                        with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as _s:
                            _s.connect(_os.environ["KIT_PAUSE_ADDRESS"])
                            while True:
                                _s.send(b"[")
                                _select.select([], [], [], 0.002)
                    except OSError:
                        continue
            for _ in range(100):
                _threading.Thread(target=_trickle, daemon=True).start()
            _threading.Event().wait()
            """, "did not finish within its deadline"),
    Hostile("links_ticket_file", "replaces the ticket file with a link to a file only root may read", "import", """
            _sell = sell
            def sell(db_path, buyers, pause=network_delay):
                result = _sell(db_path, buyers, pause)
                _os.unlink(db_path)
                _os.symlink("/etc/shadow" if _os.path.exists("/etc/shadow") else "/etc/passwd", db_path)
                return result
            """, "no longer a plain file"),
]

# Resources no process holds: memory-backed files and System V objects outlive the processes.
HOSTILES += [
    Hostile("fills_dev_shm", "writes 2.5 GiB to /dev/shm in files of 16 MiB, then waits", "entry", """
            import threading as _threading
            _block = b"x" * (16 << 20)
            for _i in range(160):
                try:
                    with open(f"/dev/shm/kit-hostile-{_os.getpid()}-{_i}", "wb") as _f:
                        _f.write(_block[:-1])
                except OSError:
                    break
            _threading.Event().wait()
            """, "of memory together", needs_sandbox_user=True),
    Hostile("leaves_ipc", "leaves System V shared memory, semaphores and a message queue, and a file in /run/lock",
            "import", """
            import ctypes as _ctypes
            _libc = _ctypes.CDLL(None)
            _libc.shmget(0, 1 << 20, 0o1600)
            _libc.semget(0, 1, 0o1600)
            _libc.msgget(0, 0o1600)
            try:
                open(f"/run/lock/kit-hostile-{_os.getpid()}", "w").close()
            except OSError:
                pass
            """, "inside buy() at the same time", needs_sandbox_user=True),
]

# Deadlines hold whatever the submission does to itself.
HOSTILES += [
    Hostile("stops_itself", "ignores SIGTERM, closes its stdout and stderr, and stops itself with SIGSTOP", "entry", """
            import signal as _signal
            _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
            _os.close(1)
            _os.close(2)
            _os.kill(_os.getpid(), _signal.SIGSTOP)
            """, "stopped (a SIGSTOP or SIGTSTP)"),
]

# In a batch, a submission sees only itself.
HOSTILES += [
    Hostile("copies_classmate", "finds the class folder in the grader's command line and runs a classmate's file",
            "import", _ANCESTORS + textwrap.dedent("""
            roots = [args[args.index("--submissions") + 1] for args in _ancestors() if "--submissions" in args[:-1]]
            for root in roots:
                with open(root + "/right-0/lock/tickets.py") as _f:
                    source = _f.read()
                exec(compile(source, __file__, "exec"))
            """), "raised PermissionError", needs_sandbox_user=True),
]

BY_NAME = {h.name: h for h in HOSTILES}

GUARDED = ["graders/engine/*.py", "graders/lock/*.py", ".nox/*/lib/python3*/site-packages/_pytest/*.py",
           ".nox/*/lib/python3*/site-packages/hypothesis/*.py"]


def patched_files(mark: str) -> list:
    """Files that `patches_engine` (run with `mark`) managed to patch; the patch is taken out again.

    Only the line it added is removed, never a whole file restored: other work
    may be editing the kit meanwhile.
    """
    line = f"\n# patched by a submission {mark}\n"
    found = []
    for pattern in GUARDED:
        for path in KIT.glob(pattern):
            text = path.read_text(errors="replace")
            if line in text:
                path.write_text(text.replace(line, ""))
                found.append(path)
    return found

# Graded beside a classmate (tests/sandbox/test_spinners.py), not in the class: it burns both cores.
SPINNER = Hostile("spins_in_sessions", "starts 30 processes that call setsid() and fork once: 60 spin for 8.5 s",
                  "entry", """
            import time as _time
            _end = _time.time() + 8.5
            _leaders = []
            for _ in range(30):
                _pid = _os.fork()
                if _pid == 0:
                    _os.setsid()
                    _os.fork()  # the leader of the new session and its child both spin
                    while _time.time() < _end:
                        pass
                    _os._exit(0)
                _leaders.append(_pid)
            for _pid in _leaders:
                _os.waitpid(_pid, 0)
            _os._exit(0)
            """, "ended its own process | did not finish within its deadline")
