"""Run one probe of a check in a fresh child process, under the lockstep
scheduler, within a deadline; and always leave no process behind.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field

from graders.engine import crashlog, lockgraph, stacks, starved, zygote
from graders.engine.scheduler import Coordinator, Trace
from graders.engine.tree import ProcessTree, become_subreaper
from graders.sandbox import cleanup, folders, resources, shm, untrusted, users

BOOT = os.path.join(os.path.dirname(os.path.dirname(__file__)), "child", "boot")
POLL = 0.005  # seconds between looks at the process tree
SETTLE = 3  # quiet looks in a row before the tree counts as blocked
STALL = 2.0  # seconds of total quiet, with no timer pending, that make a hang
MAX_EXPIRIES = 5_000  # timeouts run out in one run before it counts as waiting for ever
OUTPUT_CAP = 64_000  # characters of the program's stdout and stderr kept

_ADOPTS = None


@dataclass
class Hang:
    """The run did not finish: where every thread of the student's code stood."""

    reason: str  # "stuck" (everything blocked), "deadline", or "memory" (the tree grew past its cap)
    waited: float
    stacks: dict[int, list[list[str]]] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)
    deadlocks: list[str] = field(default_factory=list)  # cycles of traced locks, in words (lockgraph)
    lock_waits: list[str] = field(default_factory=list)  # other threads waiting for a traced lock
    stopped: list[int] = field(default_factory=list)  # processes stopped by a signal, never continued


@dataclass
class Outcome:
    """What one run produced, as the grading process saw it."""

    value: object = None
    error: dict | None = None
    hang: Hang | None = None
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    trace: Trace = field(default_factory=Trace)
    start_method: str = ""
    crashes: list = field(default_factory=list)  # processes and threads that died of an exception (crashlog.py)

    @property
    def finished(self) -> bool:
        return self.hang is None and self.error is None and self.exit_code is None


def run_probe(*, probe: str, module: str, submission: str, lib: str, params: dict,
              start_method: str, deadline: float, choose=None) -> Outcome:
    """Run `probe(student_module, pause, **params)` in a child; see Outcome."""
    global _ADOPTS
    if _ADOPTS is None:
        _ADOPTS = become_subreaper()
    slot = users.current()  # the sandbox user, when the grader runs as root
    shm_before = shm.names() if slot is None else None  # without one, the run's files there are ours
    folder = tempfile.mkdtemp(prefix="kit-run-", dir=folders.runs_dir())
    coordinator = tree = child = None
    try:
        coordinator = Coordinator(folder)
        os.mkdir(os.path.join(folder, "stacks"))
        os.mkdir(os.path.join(folder, "work"))
        os.mkdir(os.path.join(folder, "out"))  # the child's own, in the sandbox: the result goes there
        result_path = os.path.join(folder, "out", "result.json")
        lib = folders.readable_kit(lib, slot)
        forks = _zygote(slot, lib, probe)
        submission, = folders.readable_copies(folder, slot, submission)
        job_path = os.path.join(folder, "job.json")
        with open(job_path, "w") as f:
            json.dump({"probe": probe, "module": module, "params": params,
                       "start_method": start_method, "submission": submission,
                       "pause_address": coordinator.address, "result": result_path}, f)
        tag = secrets.token_hex(8)
        env = _child_env(submission, lib, os.path.join(folder, "stacks"), tag, coordinator.address)
        env.update(folders.child_env(folders.open_run(folder, slot, coordinator.address)))
        folders.hand_over(slot)
        for name in ("stdout", "stderr"):
            open(os.path.join(folder, name), "wb").close()
        child = forks.start({
            "job": job_path, "cwd": os.path.join(folder, "work"), "env": env,
            "stdout": os.path.join(folder, "stdout"), "stderr": os.path.join(folder, "stderr"),
            "boot": os.path.join(_boot(lib), "sitecustomize.py"),
            "confine": resources.confinement(slot, deadline)})
        resources.join_cpu_share(slot, child.pid)  # in case it could not join by itself
        tree = ProcessTree(child.pid, tag, _ADOPTS, outside=zygote.pids())
        outcome = Outcome(start_method=start_method)
        outcome.hang = _drive(child, tree, coordinator, deadline, choose, folder, submission,
                              resources.MemoryWatch(uid=slot.uid if slot is not None else None))
        outcome.trace = coordinator.trace
        if outcome.hang is None:
            child.wait()
            result = _load_result(result_path)
            if result is not None:
                outcome.value = result.get("value")
                outcome.error = result.get("error")
            else:
                outcome.exit_code = child.returncode
        outcome.crashes = crashlog.read(os.path.join(folder, "stacks"), submission,
                                       None if outcome.hang else result_path)
        outcome.stdout = _read_capped(os.path.join(folder, "stdout"))
        stderr = stacks.drop_exit_warnings(_read_capped(os.path.join(folder, "stderr")))
        outcome.stderr = stacks.clean_traceback(stderr, submission)
        return outcome
    finally:
        # Ctrl-C may come again while we clean up (the terminal's, then the kit's own to its
        # gradings): it waits until every process and file of the run is gone.
        interrupt = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            if tree is not None:
                tree.kill_all()
            if child is not None:
                child.wait()  # the zygote tells when it reaped the child, and is free for the next run
            cleanup.sweep(slot)  # a last net: every process of the sandbox user
            if shm_before is not None:
                shm.remove_unused(shm_before)
            if coordinator is not None:
                coordinator.close()
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, interrupt)


def _drive(child, tree, coordinator, deadline, choose, folder, submission, memory) -> Hang | None:
    """Hold and release threads until the runner exits; a Hang if it never does."""
    started = time.monotonic()
    quiet_looks, quiet_since = 0, None
    wall = starved.Deadline(deadline)
    while True:
        # First of all, the clock: however busy the program keeps the socket, its deadline holds
        # (once the program had the CPU it would have had on an idle machine: engine/starved.py).
        now = time.monotonic()
        if wall.reached(tree, now - started):
            return _hang("deadline", deadline, tree, coordinator, folder, submission)
        if coordinator.poll(POLL):
            quiet_looks, quiet_since = 0, None
            continue
        if child.poll() is not None:
            return None
        members = tree.members()
        if memory.exceeded(members, now):
            return _hang("memory", now - started, tree, coordinator, folder, submission)
        if tree.busy(members) or coordinator.pending() or coordinator.expiring:
            quiet_looks, quiet_since = 0, None
            continue
        quiet_looks += 1
        if quiet_looks < SETTLE:
            continue
        due = coordinator.due_timers()
        if due:
            if coordinator.waits_past(due, deadline) or coordinator.expiries >= MAX_EXPIRIES:
                # Its clock would pass the deadline: in real time it would still be waiting then,
                # and the memory it holds would have been seen meanwhile.
                reason = "memory" if memory.exceeded(members, now, at_once=True) else "deadline"
                return _hang(reason, max(deadline, now - started), tree, coordinator, folder, submission)
            coordinator.expire(due)
            quiet_looks, quiet_since = 0, None
            continue
        if coordinator.held:
            coordinator.release(frozenset(members), choose)
            quiet_looks, quiet_since = 0, None
            continue
        if quiet_since is None:
            quiet_since = now
        elif now - quiet_since > STALL and not tree.waiting_on_a_clock(members):
            return _hang("stuck", now - started, tree, coordinator, folder, submission)


def _hang(reason, waited, tree, coordinator, folder, submission) -> Hang:
    stopped = tree.stopped()
    dumps = tree.dump_stacks(os.path.join(folder, "stacks"))
    held = [f"{a.thread} of process {a.pid} waits in pause({a.stage!r})"
            for a in sorted(coordinator.held.values(), key=lambda a: a.seq)]
    held += [f"{t.thread} of process {t.pid} waits in {_timer_words(t)}"
             for t in sorted(coordinator.timers.values(), key=lambda t: t.seq)]
    found = {pid: stacks.student_stacks(text, submission) for pid, text in dumps.items()}
    locks = lockgraph.explain(os.path.join(folder, "stacks"), submission)
    return Hang(reason=reason, waited=round(waited, 2), held=held,
                stacks={pid: s for pid, s in found.items() if s},
                deadlocks=locks.deadlocks, lock_waits=locks.waits, stopped=stopped)


def _timer_words(timer) -> str:
    call = "time.sleep" if timer.what == "sleep" else f"a timed {timer.what}()"
    return f"{call}{f' at {timer.site}' if timer.site else ''} (timeout {timer.seconds:g} s)"


def warm_up(lib: str) -> None:
    """Start the zygote for runs with this kit folder now, while pytest still collects (or waits).
    The stage's library, once staged, is the folder the runs use (a copy only if the sandbox user
    could not read it, and then the first run starts the zygote that loads from the copy)."""
    if os.path.isdir(os.path.join(lib, "graders")):
        _zygote(users.current(), lib, None)


def _zygote(slot, lib, probe) -> zygote.Zygote:
    """The zygote that forks this grading's runs: it imports what every run would, once."""
    env = _base_env()
    env.update(PYTHONPATH=os.pathsep.join([lib, _boot(lib)]), HOME="/nonexistent")
    # The kit's probes only: the zygote never imports a module from the student's folder.
    probes = {f"graders.{entry.name}.probe" for entry in os.scandir(os.path.join(lib, "graders"))
              if os.path.isfile(os.path.join(entry.path, "probe.py"))}
    return zygote.for_runs(users.python(slot), env, sorted(probes))


def _boot(lib) -> str:
    boot = os.path.join(lib, "graders", "child", "boot")  # BOOT itself, or its copy in the sandbox
    return boot if os.path.isdir(boot) else BOOT


def _base_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST", "HYPOTHESIS", "COV_"))}
    env.update(PYTHONUNBUFFERED="1")
    return env


def _child_env(submission, lib, stacks_dir, tag, pause_address) -> dict:
    env = _base_env()
    env.update(PYTHONPATH=os.pathsep.join([submission, lib, _boot(lib)]),
               KIT_STACKS_DIR=stacks_dir, KIT_RUN_TAG=tag,
               KIT_PAUSE_ADDRESS=pause_address, KIT_STUDENT_DIR=submission)
    return env


def _load_result(path) -> dict | None:
    """The runner's result; None when there is none that makes sense (the child wrote it)."""
    text = folders.read_result(path)
    try:
        result = untrusted.loads(text) if text is not None else None
    except ValueError:
        return None
    ok = isinstance(result, dict) and set(result) in ({"value"}, {"error"})
    if ok and "error" in result:
        error = result["error"]
        ok = (isinstance(error, dict) and isinstance(error.get("type"), str)
              and isinstance(error.get("message"), str) and isinstance(error.get("types", []), list)
              and isinstance(error.get("frames", []), list)
              and all(isinstance(f, dict) and {"file", "line", "func"} <= set(f) for f in error.get("frames", [])))
    return result if ok else None


def _read_capped(path) -> str:
    data = untrusted.read_bytes(path, OUTPUT_CAP) or b""
    text = data[:OUTPUT_CAP].decode(errors="replace")
    return text + ("\n[... output cut]" if len(data) > OUTPUT_CAP else "")
