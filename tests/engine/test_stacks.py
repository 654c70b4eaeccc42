import tempfile

from graders.engine.manifest import KIT
from graders.engine.run import run_probe
from graders.engine.stacks import clean_traceback, drop_exit_warnings, student_stacks

DUMP = """Thread 0x00007f0000000002 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 320 in wait
  File "{student}/shop.py", line 33 in f1
  File "{student}/shop.py", line 50 in work
  File "/kit/graders/child/main.py", line 60 in main

Current thread 0x00007f0000000001 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 1100 in join
"""


def test_only_the_students_frames_are_kept(tmp_path):
    (tmp_path / "shop.py").write_text("\n" * 32 + "    lock_b.acquire()\n")
    threads = student_stacks(DUMP.format(student=tmp_path), str(tmp_path))
    assert threads == [["shop.py:33 in f1: lock_b.acquire()", "shop.py:50 in work"]]


def test_tracebacks_lose_the_graders_frames(tmp_path):
    text = f'''Traceback (most recent call last):
  File "/kit/graders/child/main.py", line 60, in main
    value = probe(student)
  File "{tmp_path}/tickets.py", line 9, in buy
    count = read_count(db_path)
KeyError: 'count'
'''
    assert clean_traceback(text, str(tmp_path)) == '''Traceback (most recent call last):
  File "tickets.py", line 9, in buy
    count = read_count(db_path)
KeyError: 'count\''''


def test_the_trackers_warning_of_leaked_semaphores_is_dropped_and_nothing_else():
    # The runner's os._exit leaves semaphores registered, so the warning says nothing of the
    # student's code; a leaked shared memory block is the program's own doing, and stays.
    text = """handle(17) failed: ValueError
/usr/lib/python3.11/multiprocessing/resource_tracker.py:254: UserWarning: resource_tracker: \
There appear to be 6 leaked semaphore objects to clean up at shutdown
  warnings.warn('resource_tracker: There appear to be %d '
/usr/lib/python3.11/multiprocessing/resource_tracker.py:254: UserWarning: resource_tracker: \
There appear to be 1 leaked shared_memory objects to clean up at shutdown
  warnings.warn('resource_tracker: There appear to be %d '
done"""
    assert drop_exit_warnings(text).splitlines() == [
        "handle(17) failed: ValueError",
        "/usr/lib/python3.11/multiprocessing/resource_tracker.py:254: UserWarning: resource_tracker: "
        "There appear to be 1 leaked shared_memory objects to clean up at shutdown",
        "  warnings.warn('resource_tracker: There appear to be %d '",
        "done",
    ]


def test_the_warning_of_a_real_run_is_gone_from_its_stderr():
    with tempfile.TemporaryDirectory() as folder:
        # collect() raises, with the pool still registered: the probe keeps every pool it saw.
        outcome = run_probe(probe="graders.pool.probe:collect", module="collect",
                            submission=str(KIT / "solutions" / "pool"), lib=str(KIT),
                            params={"args": [5, 3, 8, 1], "processes": 3, "marks": f"{folder}/marks",
                                    "failures": {"3": "ValueError"}},
                            start_method="forkserver", deadline=20)
    assert outcome.finished
    assert "leaked semaphore" not in outcome.stderr
