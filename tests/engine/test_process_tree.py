"""ProcessTree on small real process trees made in the test: who is a member, what state each
thread is in, that kill_all leaves nothing, and which processes are multiprocessing's own.

A test that walks the tree runs in a fork of this process that stands for the grading process: a
subreaper whose descendants are only the ones the test makes (this pytest worker may have children
of its own, which a walk would find and kill_all would kill). Waits for a process to get somewhere
are bounded loops; nothing is asserted about how long anything took.
"""
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

import psutil
import pytest

from graders.engine import tree
from graders.engine.tree import ProcessTree
from graders.sandbox import procstat

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")

TRACKER = "from multiprocessing.resource_tracker import main;main({fd})"  # resource_tracker.py's own spelling


def wait_for(find, rounds=1000):
    """find()'s first true value; the rounds only bound a broken test."""
    for _ in range(rounds):
        found = find()
        if found:
            return found
        time.sleep(0.005)
    raise AssertionError(f"never got there: {find.__doc__ or find}")


def block():
    while True:
        signal.pause()


def fork(body) -> int:
    """Run body() in a fork; its pid. The fork never returns into pytest, and ends when body does."""
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(0)
    return pid


def say(fd, *words):
    os.write(fd, json.dumps(words).encode() + b"\n")


class Ears:
    """The read end of a pipe the test's processes say things on, one JSON line each."""

    def __init__(self):
        self.fd, self.mouth = os.pipe()
        self._rest = b""

    def hear(self):
        while b"\n" not in self._rest:
            chunk = os.read(self.fd, 4096)
            assert chunk, "a process of the test ended before it said its piece"
            self._rest += chunk
        line, self._rest = self._rest.split(b"\n", 1)
        return json.loads(line)


def as_the_grading_process(body):
    """Run body() in a fork that adopts orphans, like the grading process; fail here with its traceback."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        report = b"ok"
        try:
            os.close(read)
            assert tree.become_subreaper()
            body()
        except BaseException:
            report = traceback.format_exc().encode()
        finally:
            try:
                _sweep()
                os.write(write, report)
            finally:
                os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        report = f.read()
    os.waitpid(pid, 0)
    if report != b"ok":
        pytest.fail(report.decode(errors="replace"), pytrace=False)


def _sweep():
    """Kill whatever a failed test left (a test that passed left nothing)."""
    for _ in range(100):
        left = psutil.Process().children(recursive=True)
        if not left:
            return
        for proc in left:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=1)


def reap_all():
    """Reap this process's children as they die, until it has none."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def gone(pid) -> bool:
    """Not in the process table at all: not running, not a zombie waiting to be reaped."""
    return not psutil.pid_exists(pid)


# --- members -----------------------------------------------------------------------------------

def test_members_are_the_runs_processes_and_the_orphans_it_adopted():
    def body():
        ears = Ears()

        def escapee():  # double-forks out of its session: its parent is gone before the test looks
            os.setsid()
            fork(lambda: (say(ears.mouth, "orphan", os.getpid()), block()))

        def main():
            os.setsid()
            os.waitpid(fork(escapee), 0)
            fork(lambda: (say(ears.mouth, "grandchild", os.getpid()), block()))
            say(ears.mouth, "main", os.getpid())
            block()

        root = fork(main)
        pids = dict(ears.hear() for _ in range(3))
        assert pids["main"] == root
        assert psutil.Process(pids["orphan"]).ppid() == os.getpid()  # adopted, as the grading process is
        run = ProcessTree(root, "tag", adopts_orphans=True)
        assert sorted(run.members()) == sorted(pids.values())
        assert sorted(run.everyone()) == sorted(pids.values())
        assert run.helpers == []
        run.kill_all()
        assert run.everyone() == [] and run.members() == []
        assert [pid for pid in pids.values() if not gone(pid)] == []
    as_the_grading_process(body)


def test_kill_all_leaves_nothing_of_a_tree_that_forks_and_stops_while_it_is_killed():
    def body():
        ears = Ears()

        def threaded():
            for _ in range(3):
                threading.Thread(target=block, daemon=True).start()
            say(ears.mouth, "threaded", os.getpid())
            block()

        def stopped():
            say(ears.mouth, "stopped", os.getpid())
            os.kill(os.getpid(), signal.SIGSTOP)
            block()

        def forker():  # forks on and on while the tree is killed: every one of them must go too
            say(ears.mouth, "forker", os.getpid())
            for _ in range(200):
                fork(block)

        def main():
            os.setsid()
            fork(lambda: os._exit(3))  # a zombie: dead, never reaped by its parent
            for part in (threaded, stopped, forker):
                fork(part)
            fork(lambda: (os.setsid(), fork(lambda: (say(ears.mouth, "orphan", os.getpid()), block()))))
            say(ears.mouth, "main", os.getpid())
            block()

        root = fork(main)
        pids = dict(ears.hear() for _ in range(5))
        wait_for(lambda: psutil.Process(pids["stopped"]).status() == psutil.STATUS_STOPPED)
        run = ProcessTree(root, "tag", adopts_orphans=True)
        seen = run.everyone()
        assert set(pids.values()) <= set(seen)
        run.kill_all()
        assert run.everyone() == []
        assert [pid for pid in set(seen) | set(pids.values()) if not gone(pid)] == []
        assert psutil.Process().children(recursive=True) == []
    as_the_grading_process(body)


def test_where_orphans_are_not_adopted_the_runs_tag_finds_them_and_only_them():
    """Without a subreaper an escaped process leaves the tree; kill_all finds it by the tag it started with."""
    def body():
        ears = Ears()

        def grading():  # a fork of a subreaper is none itself
            tag = f"kit-test-{os.getpid()}"

            def escape(tag):  # the shell ends at once: its sleep is nobody's child here
                shell = subprocess.Popen(["/bin/sh", "-c", "sleep 1000 & echo $!"], stdout=subprocess.PIPE,
                                         env=dict(os.environ, KIT_RUN_TAG=tag))
                pid = int(shell.stdout.readline())
                shell.wait()
                return pid

            ours, theirs = escape(tag), escape(tag + "-another")
            run = ProcessTree(os.getpid(), tag, adopts_orphans=False)
            assert run.everyone() == []
            run.kill_all()
            say(ears.mouth, ours, theirs, psutil.Process(theirs).status())
            block()

        runner = fork(grading)
        reaper = threading.Thread(target=reap_all, daemon=True)  # what we adopt dies; it must not linger
        reaper.start()
        ours, theirs, status = ears.hear()
        os.kill(runner, signal.SIGKILL)
        assert gone(ours) or psutil.Process(ours).status() == psutil.STATUS_ZOMBIE
        assert status == psutil.STATUS_SLEEPING  # another run's tag: left alone
    as_the_grading_process(body)


# --- thread states -----------------------------------------------------------------------------

@pytest.fixture
def spawned():
    """spawned(body) -> pid: a fork of this worker running body(), killed and reaped at the test's end."""
    pids = []

    def make(body):
        pids.append(fork(body))
        return pids[-1]
    yield make
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):  # the test reaped it
            pass


def states(pid) -> dict[int, str]:
    return dict(tree._thread_states(pid))


def test_the_state_of_every_thread_is_read(spawned):
    ears = Ears()

    def three_threads():
        ids = [threading.get_native_id()]
        for _ in range(2):
            ready = threading.Event()
            threading.Thread(target=lambda: (ids.append(threading.get_native_id()), ready.set(), block()),
                             daemon=True).start()
            ready.wait()
        say(ears.mouth, *ids)
        block()

    pid = spawned(three_threads)
    ids = ears.hear()
    assert ids[0] == pid and len(set(ids)) == 3
    found = wait_for(lambda: set(states(pid).values()) == {"S"} and states(pid))
    assert sorted(found) == sorted(ids)
    run = ProcessTree(pid, "tag", adopts_orphans=False)
    assert not run.busy([pid])
    assert run.stopped([pid]) == []

    os.kill(pid, signal.SIGSTOP)
    assert wait_for(lambda: run.stopped([pid])) == [pid]
    assert set(states(pid).values()) <= {"T", "t"} and sorted(states(pid)) == sorted(ids)
    assert not run.busy([pid])  # stopped: it cannot move until something else happens
    os.kill(pid, signal.SIGCONT)
    wait_for(lambda: set(states(pid).values()) == {"S"})
    assert run.stopped([pid]) == []


def test_a_running_thread_makes_the_run_busy_and_a_gone_process_has_no_threads(spawned):
    def spin():
        while True:
            pass

    spinner = spawned(spin)
    idle = spawned(block)
    run = ProcessTree(idle, "tag", adopts_orphans=False)
    wait_for(lambda: states(idle) == {idle: "S"})
    assert not run.busy([idle])
    assert wait_for(lambda: run.busy([idle, spinner]))
    assert states(spinner) == {spinner: "R"}
    os.kill(spinner, signal.SIGKILL)
    os.waitpid(spinner, 0)
    assert states(spinner) == {}
    assert not run.busy([idle, spinner])


def untimed_acquire():
    lock = threading.Lock()
    lock.acquire()
    lock.acquire()


def timed_acquire():
    lock = threading.Lock()
    lock.acquire()
    lock.acquire(timeout=1000)


@pytest.mark.parametrize("wait, wakes", [
    (lambda: time.sleep(1000), True),
    (timed_acquire, True),
    (lambda: threading.Event().wait(1000), True),
    (untimed_acquire, False),
    (lambda: threading.Event().wait(), False),
    (block, False),
], ids=["sleep", "timed-acquire", "timed-event", "acquire", "event", "pause"])
def test_a_wait_with_a_time_limit_is_told_from_one_without(spawned, wait, wakes):
    pid = spawned(wait)
    run = ProcessTree(pid, "tag", adopts_orphans=False)
    wait_for(lambda: states(pid) == {pid: "S"} and tree._waits_with_time_limit(pid, pid) is wakes)
    for _ in range(20):  # and stays so: not a moment on its way into the wait
        assert run.waiting_on_a_clock([pid]) is wakes


# --- multiprocessing's own helpers -------------------------------------------------------------

def test_a_forkservers_server_and_the_resource_tracker_are_helpers_and_its_children_are_the_students():
    code = ("import json, time, multiprocessing as mp\n"
            "import multiprocessing.forkserver as fs, multiprocessing.resource_tracker as rt\n"
            "p = mp.get_context('forkserver').Process(target=time.sleep, args=(1000,))\n"
            "p.start()\n"
            "print(json.dumps([p.pid, fs._forkserver._forkserver_pid, rt._resource_tracker._pid]), flush=True)\n"
            "p.join()\n")

    def body():
        main = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        student, server, tracker = json.loads(main.stdout.readline())
        run = ProcessTree(main.pid, "tag", adopts_orphans=True)
        assert sorted(run.everyone()) == sorted([main.pid, student, server, tracker])
        assert sorted(run.members()) == sorted([main.pid, student])
        assert sorted(run.helpers) == sorted([server, tracker])
        assert psutil.Process(student).cmdline() == psutil.Process(server).cmdline()  # and still the student's
        run.kill_all()
        assert run.helpers == []
        assert [pid for pid in (main.pid, student, server, tracker) if not gone(pid)] == []
        main.wait()
    as_the_grading_process(body)


def test_only_the_runs_interpreter_running_exactly_the_helpers_command_is_a_helper():
    def body():
        read, write = os.pipe()  # the trackers read it until the test ends

        def start(*argv):
            return subprocess.Popen([a.format(fd=read) for a in argv], pass_fds=(read,)).pid

        python = sys.executable
        root = start(python, "-c", "import signal; signal.pause()")
        helpers = [start(python, "-c", TRACKER),
                   start(python, "-c", TRACKER.replace(";", "; ")),  # the spelling of some Pythons
                   start(python, "-s", "-E", "-Wdefault", "-c", TRACKER)]  # with the run's flags
        students = [start(python, "-c", TRACKER, "extra"),
                    start(python, "-c", TRACKER + ";import os"),
                    start(python, "-c", "  " + TRACKER)]
        run = ProcessTree(root, "tag", adopts_orphans=True)
        members = run.members()
        assert sorted(run.helpers) == sorted(helpers)
        assert sorted(members) == sorted([root] + students)

        other = ProcessTree(start("/bin/sleep", "1000"), "tag", adopts_orphans=True)
        assert len(other.members()) == 2 + len(helpers) + len(students)
        assert other.helpers == []  # another interpreter than the run's: nothing is a helper
        os.close(write)
    as_the_grading_process(body)


@pytest.mark.xfail(strict=True, reason="a helper is told by its command line and interpreter alone: the "
                                       "student's own code run before it (sitecustomize on PYTHONPATH, LD_PRELOAD) "
                                       "is not seen, and the process is left out of the student's count")
def test_a_helpers_command_line_running_the_students_code_is_still_the_students(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("while True:\n    pass\n")

    def body():
        read, _ = os.pipe()
        root = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"]).pid
        disguised = subprocess.Popen([sys.executable, "-c", TRACKER.format(fd=read)], pass_fds=(read,),
                                     env=dict(os.environ, PYTHONPATH=str(tmp_path))).pid
        run = ProcessTree(root, "tag", adopts_orphans=True)
        wait_for(lambda: run.busy([disguised]))  # it runs the student's loop, not the tracker
        assert sorted(run.members()) == sorted([root, disguised])
    as_the_grading_process(body)


# --- /proc/PID/stat of a process that names itself -----------------------------------------------

PR_SET_NAME = 15


def name_myself(name: bytes):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl")


@pytest.mark.parametrize("name", [b"a) R 1 (b) R 9", b") (", b"x y) Z 1 2 3)", b"(", b"z)"])
def test_procstat_reads_past_a_name_that_holds_parentheses_and_spaces(spawned, name):
    """A naive reading (cut at the first ')' , or split on spaces) would take the name's own words."""
    ears = Ears()

    def named():
        name_myself(name)
        ready = threading.Event()

        def thread():
            name_myself(b") (" + name[:10])
            say(ears.mouth, threading.get_native_id())
            ready.set()
            block()
        threading.Thread(target=thread, daemon=True).start()
        ready.wait()
        block()

    pid = spawned(named)
    (tid,) = ears.hear()
    with open(f"/proc/{pid}/stat", "rb") as f:
        assert f.read().startswith(f"{pid} (".encode() + name + b") ")  # the test names it as meant
    with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
        assert f.read().startswith(f"{tid} (".encode() + b") (" + name[:10] + b") ")

    wait_for(lambda: states(pid) == {pid: "S", tid: "S"})
    fields = procstat.stat_fields(pid)
    assert fields[procstat.STATE] == b"S"
    assert int(fields[procstat.PARENT]) == os.getpid()
    assert int(fields[procstat.THREADS]) == 2
    thread = procstat.stat_fields(pid, tid)
    assert thread[procstat.STATE] == b"S" and int(thread[procstat.PARENT]) == os.getpid()
    assert tree._parent(pid) == os.getpid()


def test_procstat_says_none_for_a_process_that_is_gone(spawned):
    pid = spawned(lambda: os._exit(0))
    os.waitpid(pid, 0)
    assert procstat.stat_fields(pid) is None
    assert tree._parent(pid) is None
