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
            import sys, graders.engine.hook, graders.engine.runner
            graders.engine.hook.Pause.__call__ = lambda self, stage="", *a, **k: None
            graders.engine.runner._jsonable = lambda value, depth=0: [True] * 8
            sys.modules["pytest"] = sys.modules["hypothesis"] = sys.modules["graders.engine.runner"]
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
                for flag in ("--kit-results", "--json", "--out", "--gradescope"):
                    if flag in args[:-1]:
                        targets.append(args[args.index(flag) + 1])
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
