"""A run killed at a hang leaves none of multiprocessing's files in /dev/shm, as an ordinary user too.

As root the slot user's files go with the slot; without a slot (an ordinary
user, or KIT_SANDBOX=off) the grader removes what it can tell is the run's
(graders/sandbox/shm.py).
"""
import os

import pytest

from graders.sandbox import shm, users


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_killed_run_leaves_no_semaphore_or_shared_memory_without_a_slot(program, monkeypatch, start_method):
    if not os.path.isdir(shm.SHM):
        pytest.skip("no /dev/shm")
    monkeypatch.setattr(users, "current", lambda: None)  # graded as the grader's own user
    run = program("""
        import multiprocessing, os, threading
        from multiprocessing import shared_memory

        def probe(student, pause):
            lock = multiprocessing.Lock()
            memory = shared_memory.SharedMemory(create=True, size=4096)
            with open(os.environ["KIT_SHM_NAMES"], "w") as f:
                f.write(f"{lock._semlock.name} {memory._name}")
            threading.Event().wait()
    """, start_method=start_method)
    before = shm.names()
    told = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"kit-shm-names-{os.getpid()}-{start_method}")
    monkeypatch.setenv("KIT_SHM_NAMES", told)
    try:
        assert run("probe").hang.reason == "stuck"
        with open(told) as f:
            made = f.read()
    finally:
        if os.path.exists(told):
            os.remove(told)
    semaphore, memory = made.split()
    names = ["sem." + semaphore.lstrip("/"), memory.lstrip("/")]
    assert all(n not in before for n in names)
    assert [n for n in names if os.path.exists(os.path.join(shm.SHM, n))] == []


def test_a_semaphore_in_use_is_never_removed():
    """Its maker maps it under the name sem_open() made it with, not the semaphore's: told by inode."""
    if not os.path.isdir(shm.SHM):
        pytest.skip("no /dev/shm")
    import multiprocessing
    before = shm.names()
    lock = multiprocessing.get_context("spawn").Lock()  # a named semaphore, as under spawn and forkserver
    path = os.path.join(shm.SHM, "sem." + lock._semlock.name.lstrip("/"))
    assert os.path.exists(path)
    shm.remove_unused(before)
    assert os.path.exists(path)
