"""The engine runs student code in a child, and always learns what happened to it."""
import os

import psutil
import pytest

from graders.engine.checks import CheckFailure, Student


def test_a_probe_returns_plain_data(program):
    run = program("""
        def probe(student, pause, n):
            return {"squares": [i * i for i in range(n)], "odd": {1, 2}}
    """)
    outcome = run("probe", n=3)
    assert outcome.value == {"squares": [0, 1, 4], "odd": {"repr": "{1, 2}", "type": "set"}}
    assert outcome.finished


def test_an_exception_is_reported_with_the_students_frames_only(program):
    run = program("""
        def broken():
            return 1 / 0

        def probe(student, pause):
            return broken()
    """)
    outcome = run("probe")
    assert outcome.error["type"] == "ZeroDivisionError"
    assert "ArithmeticError" in outcome.error["types"]
    assert [f["func"] for f in outcome.error["frames"]] == ["probe", "broken"]


@pytest.mark.parametrize("ending, field", [("os._exit(0)", "exit_code"), ("sys.exit(0)", "error")])
def test_ending_the_process_never_counts_as_a_result(program, ending, field):
    run = program(f"""
        import os, sys

        def probe(student, pause):
            {ending}
    """)
    outcome = run("probe")
    assert outcome.value is None
    assert getattr(outcome, field) is not None
    student = Student(exercise=None, submission="", lib="", start_method="forkserver")
    with pytest.raises(CheckFailure):
        student.finished(outcome, "probe()")


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_processes_that_can_be_inside_a_stage_together_always_are(program, start_method):
    run = program("""
        import multiprocessing

        def work(pause, lock):
            if lock is None:
                pause("inside")
            else:
                with lock:
                    pause("inside")

        def probe(student, pause, locked):
            lock = multiprocessing.Lock() if locked else None
            ps = [multiprocessing.Process(target=work, args=(pause, lock)) for _ in range(3)]
            for p in ps:
                p.start()
            for p in ps:
                p.join()
    """, start_method=start_method)
    assert run("probe", locked=False).trace.max_together("inside") == 3
    assert run("probe", locked=True).trace.max_together("inside") == 1


def test_choose_releases_held_threads_in_the_order_it_picks(program):
    run = program("""
        import threading

        def probe(student, pause):
            order = []
            def work(i):
                pause(f"task:{i}")
                order.append(i)
            threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return order
    """)

    def last_first(held, trace):
        return [max(held, key=lambda a: a.stage)]

    assert run("probe", choose=last_first).value == [2, 1, 0]


def test_a_deadlock_is_reported_as_stuck_with_the_students_line(program):
    run = program("""
        import threading

        def probe(student, pause):
            lock = threading.Lock()
            lock.acquire()
            lock.acquire()  # waits for itself
    """)
    outcome = run("probe")
    assert outcome.hang.reason == "stuck"
    lines = [frame for threads in outcome.hang.stacks.values() for frames in threads for frame in frames]
    assert any("prog.py:7 in probe" in line and "lock.acquire()" in line for line in lines), lines


def test_a_sleeping_program_is_slow_not_stuck(program):
    run = program("""
        import time

        def probe(student, pause):
            while True:
                time.sleep(0.5)
    """, deadline=3.5)
    assert run("probe").hang.reason == "deadline"


def test_a_busy_loop_meets_the_deadline(program):
    run = program("""
        def probe(student, pause):
            while True:
                pass
    """, deadline=1.0)
    assert run("probe").hang.reason == "deadline"


def test_no_process_outlives_a_run_even_one_that_escaped_with_setsid(program, tmp_path):
    marker = f"kit-test-{os.getpid()}-{tmp_path.name}"
    run = program(f"""
        import os, time

        def probe(student, pause):
            os.environ["ESCAPE_MARK"] = "{marker}"
            for _ in range(3):
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        time.sleep(60)
                    os._exit(0)
            return "left them behind"
    """)
    assert run("probe").value == "left them behind"
    left = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("ESCAPE_MARK") == marker:
                left.append(proc.pid)
        except psutil.Error:
            pass
    assert left == []


def test_output_is_capped(program):
    run = program("""
        import sys

        def probe(student, pause):
            sys.stdout.write("x" * 1_000_000)
    """)
    outcome = run("probe")
    assert outcome.stdout.endswith("[... output cut]")
    assert len(outcome.stdout) < 70_000
