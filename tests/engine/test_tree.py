"""Whose processes a run has, and that none of them outlives it, on a busy machine too."""
import multiprocessing
import os

import subprocess
import sys

import psutil
import pytest

from graders.engine import manifest
from graders.engine.grading import grade
from graders.engine.manifest import KIT


def marked(marker):
    """Pids of the processes whose environment (as they started) holds `marker`."""
    found = []
    for proc in psutil.process_iter():
        try:
            if marker in (proc.environ().get("ESCAPE_MARK"), proc.environ().get("KIT_TEST_MARK")):
                found.append(proc.pid)
        except psutil.Error:
            pass
    return found


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_multiprocessings_own_helpers_are_not_the_students_processes(program, context, start_method):
    """A spawn context starts a resource tracker, a forkserver context a server too: neither is one
    of the student's processes while the run goes on, and neither outlives it. The processes the
    student starts are, a forkserver's children too (they are forked with its command line)."""
    run = program(f"""
        import multiprocessing, os

        def child(pause):
            pause("kit:child")

        def probe(student, pause):
            ctx = multiprocessing.get_context("{context}")
            p = ctx.Process(target=child, args=(pause,))
            p.start()
            p.join()
            pause("kit:mark")
            return os.getpid()
    """, start_method=start_method)
    outcome = run("probe")
    main = outcome.value
    assert isinstance(main, int), outcome
    held = next(b for b in outcome.trace.batches if b.at("kit:child"))
    assert held.alive == {main, held.at("kit:child")[0].pid}
    mark = next(b for b in outcome.trace.batches if b.at("kit:mark"))
    assert mark.alive == {main}, "a helper of multiprocessing was counted as the student's process"


def test_a_program_that_pretends_to_be_a_helper_is_still_counted(program):
    """Only the run's interpreter running exactly multiprocessing's command line is a helper."""
    run = program("""
        import os, subprocess

        def probe(student, pause):
            fake = subprocess.Popen(["/bin/sh", "-c", "from multiprocessing.resource_tracker import main;main(3)",
                                     "sleep 60"])
            pause("kit:mark")
            return fake.pid
    """)
    outcome = run("probe")
    mark = next(b for b in outcome.trace.batches if b.at("kit:mark"))
    assert outcome.value in mark.alive


def burn(stop):
    while not stop.is_set():
        pass


@pytest.fixture
def busy_machine():
    """Keeps every core busy, and more, while a test grades: a machine loaded by other gradings."""
    stop = multiprocessing.get_context("fork").Event()
    burners = [multiprocessing.get_context("fork").Process(target=burn, args=(stop,), daemon=True)
               for _ in range(4 * (os.cpu_count() or 1))]
    for p in burners:
        p.start()
    yield
    stop.set()
    for p in burners:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()


FORKER = """
import os

def probe(student, pause):
    os.environ["ESCAPE_MARK"] = {marker!r}
    for _ in range(4):
        if os.fork() == 0:
            while True:  # a chain that never stops forking, each parent leaving at once
                try:
                    if os.fork() != 0:
                        os._exit(0)
                except OSError:
                    pass
    return "forking"
"""

GRADER = """
import sys
from graders.engine.run import run_probe
outcome = run_probe(probe="prog:probe", module="prog", submission=sys.argv[1], lib=sys.argv[2], params={{}},
                    start_method="fork", deadline=10.0)
print(outcome.value)
"""


def test_processes_that_fork_while_being_killed_are_killed_too(busy_machine, tmp_path):
    """The grading runs in a process of its own: the machine's load is not one of its descendants."""
    marker = f"kit-test-{os.getpid()}-{tmp_path.name}"
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "prog.py").write_text(FORKER.format(marker=marker))
    done = subprocess.run([sys.executable, "-c", GRADER.format(), str(tmp_path / "student"), str(KIT)],
                          capture_output=True, text=True, cwd=KIT, timeout=300)
    assert done.stdout.strip() == "forking", done.stderr
    assert marked(marker) == []


CONSUMERS = {
    "dies_of_handle_error": ("        try:\n            handle(item)\n", "        if True:\n            handle(item)\n"),
    "catches_only_value_error": ("except Exception as error:", "except ValueError as error:"),
}


@pytest.mark.parametrize("name", CONSUMERS)
def test_a_grading_under_load_returns_only_when_its_processes_are_gone(name, busy_machine, tmp_path, monkeypatch):
    consumer = manifest.load()["consumer"]
    old, new = CONSUMERS[name]
    source = (consumer.solution_dir / consumer.stub).read_text()
    assert source.count(old) == 1
    path = tmp_path / consumer.stub
    path.write_text(source.replace(old, new))
    marker = f"kit-test-{os.getpid()}-{tmp_path.name}"
    monkeypatch.setenv("KIT_TEST_MARK", marker)
    result = grade([consumer], sources={"consumer": path}, methods=["fork", "forkserver"],
                   checks=["survives_failing_handle", "stop_ends_consumers"])
    assert not result.passed
    assert marked(marker) == []
