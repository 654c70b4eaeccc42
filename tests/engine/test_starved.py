"""A loaded machine cannot turn a verdict into a deadline: a run still busy at its deadline that
was starved of the CPU runs on until it has had its share, or a few deadlines have passed.

The load is made certain, not hoped for: the run's CPU group (as root, a slot's group in
cgroup v1's cpu controller) gets a quota of a tenth of a core, the way a machine loaded by a
dozen other gradings shares it out.
"""
import os

import pytest

from graders.sandbox import resources, users

QUOTA = 10  # per cent of one core the run may use


@pytest.fixture
def starved_group():
    slot = users.current()
    if slot is None or not os.access(resources.CPU_GROUPS, os.W_OK):
        pytest.skip("needs root and a writable cgroup v1 cpu controller, to give the run a CPU quota")
    group = os.path.join(resources.CPU_GROUPS, f"kit-{slot.uid}")
    os.makedirs(group, exist_ok=True)
    quota = os.path.join(group, "cpu.cfs_quota_us")
    with open(os.path.join(group, "cpu.cfs_period_us")) as f:
        period = int(f.read())
    with open(quota, "w") as f:
        f.write(str(period * QUOTA // 100))
    try:
        yield
    finally:
        with open(quota, "w") as f:
            f.write("-1")


def test_a_program_starved_of_the_cpu_finishes_instead_of_reaching_its_deadline(program, starved_group):
    # Half a second of CPU: about 5 s at a tenth of a core, past the
    # deadline of 3 s, but well within the CPU it may have by then.
    run = program("""
        import time

        def probe(student, pause):
            n = 0
            while time.process_time() < 0.5:
                n += 1
            return "done"
    """, deadline=3.0)
    outcome = run("probe")
    assert outcome.hang is None, outcome.hang
    assert outcome.value == "done"


def test_a_starved_busy_loop_still_meets_its_deadline(program, starved_group):
    run = program("""
        def probe(student, pause):
            while True:
                pass
    """, deadline=1.0)
    hang = run("probe").hang
    assert hang.reason == "deadline" and round(hang.waited) == 1  # the deadline told, not the time it took
