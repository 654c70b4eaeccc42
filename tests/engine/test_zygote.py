"""A run's first process is forked by the zygote, yet it is what a fresh `python -m graders.child.main`
would be: its own folder, environment, import path, key and user, none of the zygote's files, and
a zygote that never outlives the grading process."""
import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from graders.engine import zygote
from graders.engine.manifest import KIT
from graders.sandbox import users

LOOKS = """
    import multiprocessing, os, sys, tempfile

    def probe(student, pause):
        fds = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                pass
        return {"cwd": os.getcwd(), "path0": sys.path[0], "tmp": tempfile.gettempdir(),
                "tmpdir": os.environ.get("TMPDIR"), "home": os.environ.get("HOME"),
                "authkey": bytes(multiprocessing.current_process().authkey).hex(),
                "argv0": os.path.basename(sys.argv[0]), "pid": os.getpid(), "parent": os.getppid(),
                "uid": os.getuid(), "proc_owner": os.stat("/proc/self/status").st_uid,
                "stdin": os.readlink("/proc/self/fd/0"), "fds": fds, "session": os.getsid(0) == os.getpid()}
"""


def test_a_forked_run_looks_like_a_fresh_interpreter_of_its_own(program):
    run = program(LOOKS)
    first, second = run("probe").value, run("probe").value
    for looks in (first, second):
        work = looks["cwd"]
        assert os.path.basename(work) == "work" and looks["path0"] == work
        assert looks["tmp"] == looks["tmpdir"] and os.path.dirname(looks["tmp"]) == os.path.dirname(work)
        assert looks["home"] == work
        assert looks["argv0"] == "main.py"
        assert looks["stdin"] == os.devnull
        assert looks["session"]
    assert first["cwd"] != second["cwd"]
    assert first["authkey"] != second["authkey"], "each run draws its own key, as a fresh interpreter does"
    assert first["parent"] == second["parent"] and first["parent"] in zygote.pids()
    assert first["pid"] != second["pid"]


def test_a_run_holds_none_of_the_zygotes_pipes(program):
    looks = program(LOOKS)("probe").value
    [forks] = [z for z in zygote._zygotes.values() if z.pid == looks["parent"]]
    theirs = {os.readlink(f"/proc/{forks.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{forks.pid}/fd")}
    pipes = {link for link in theirs if link.startswith("pipe:")}
    assert pipes, "the zygote talks to us through pipes"
    assert pipes.isdisjoint(looks["fds"].values())


@pytest.mark.skipif(users.current() is None, reason="needs root and sandbox users")
def test_as_root_a_run_is_the_sandbox_user_and_owns_its_proc_files(program):
    looks = program(LOOKS)("probe").value
    slot = users.current()
    assert looks["uid"] == slot.uid
    # Changing user without exec would leave the process undumpable, its /proc files root's.
    assert looks["proc_owner"] == slot.uid
    assert psutil.Process(looks["parent"]).uids().real == os.getuid()


def test_the_exit_code_and_the_signal_that_ended_a_run_are_told(program):
    assert program("""
        import os
        def probe(student, pause):
            os._exit(3)
    """)("probe").exit_code == 3
    assert program("""
        import os, signal
        def probe(student, pause):
            os.kill(os.getpid(), signal.SIGTERM)
    """)("probe").exit_code == -signal.SIGTERM


def test_the_zygote_never_imports_the_students_module(program):
    run = program("""
        import os
        LOADED_BY = os.getpid()
        def probe(student, pause):
            return LOADED_BY == os.getpid()
    """)
    assert run("probe").value is True


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_lock_type_a_manager_registers_is_the_one_lock_tracing_sees(program, start_method):
    # The zygote loads multiprocessing.managers only when the run does, after the kit's patches, so a
    # Manager's RLock can be sent to its server under spawn and forkserver.
    run = program("""
        import multiprocessing
        from graders.child import locktrace

        def probe(student, pause):
            locktrace.trace(student)
            with multiprocessing.get_context().Manager() as manager:
                lock = manager.RLock()
                with lock:
                    return "held"
    """, start_method=start_method)
    outcome = run("probe")
    assert outcome.value == "held", (outcome.error, outcome.stderr)


KILLED_GRADER = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, sys.argv[1])
    from graders.engine import zygote
    forks = zygote.for_runs(sys.executable, dict(os.environ, PYTHONPATH=sys.argv[1]), [])
    forks.wait_ready()
    print(forks.pid, flush=True)
    os.kill(os.getpid(), 9)  # no chance to close it
""")


def test_a_zygote_dies_with_the_grading_process_that_started_it():
    done = subprocess.run([sys.executable, "-c", KILLED_GRADER, str(KIT)], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip(), done.stderr
    pid = int(done.stdout.split()[0])
    try:
        psutil.Process(pid).wait(timeout=10)
    except psutil.NoSuchProcess:
        pass
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
