from graders.engine.stacks import clean_traceback, student_stacks

DUMP = """Thread 0x00007f0000000002 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 320 in wait
  File "{student}/shop.py", line 33 in f1
  File "{student}/shop.py", line 50 in work
  File "/kit/graders/engine/runner.py", line 60 in main

Current thread 0x00007f0000000001 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 1100 in join
"""


def test_only_the_students_frames_are_kept(tmp_path):
    (tmp_path / "shop.py").write_text("\n" * 32 + "    lock_b.acquire()\n")
    threads = student_stacks(DUMP.format(student=tmp_path), str(tmp_path))
    assert threads == [["shop.py:33 in f1: lock_b.acquire()", "shop.py:50 in work"]]


def test_tracebacks_lose_the_graders_frames(tmp_path):
    text = f'''Traceback (most recent call last):
  File "/kit/graders/engine/runner.py", line 60, in main
    value = probe(student)
  File "{tmp_path}/tickets.py", line 9, in buy
    count = read_count(db_path)
KeyError: 'count'
'''
    assert clean_traceback(text, str(tmp_path)) == '''Traceback (most recent call last):
  File "tickets.py", line 9, in buy
    count = read_count(db_path)
KeyError: 'count\''''
