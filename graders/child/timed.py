"""Timed waits decided by the grader: the child's side of the time model.

A thread that waits with a timeout (`q.get(timeout=10)`, `lock.acquire(timeout=2)`,
`result.get(timeout=1)`, `p.join(5)`, `time.sleep(0.5)`) is a thread whose
timeout can expire. The grader, not the wall clock, decides when: the wait is
told to the grader as a *timer*, and the grader lets it expire when nothing
else in the program can move (`run.py`), the way trio's MockClock jumps to the
next deadline when every task is blocked. A program that is right only while
its timeouts do not expire therefore fails on every run, and a 10 s timeout
costs milliseconds, not 10 s.

Only the waits of the student's code are timed this way: its own calls, the
code it runs in Pool workers, and a Manager serving its calls. The standard
library's own timed waits keep the wall clock. The waits patched are the
innermost ones that can be cut into slices without changing their meaning
(a semaphore, a condition's waiter lock, a readable pipe stay so between
slices): multiprocessing's semaphores and locks, the lock a threading.Condition
waits on (so Event, Queue, Future and AsyncResult waits too),
`multiprocessing.connection.wait` (Queue.get, Connection.poll, Process.join),
Thread.join and time.sleep. A waiting thread tries the real wait in short
slices and asks the grader between them whether its time is up; a sleeping
thread just waits for the grader's word.

Not covered, and so still on the wall clock: timed waits on a bare
threading.Lock or RLock that the lock tracing did not wrap, select() and
socket timeouts, and threads that the standard library starts (threading.Timer).
"""
import json
import os
import socket
import sys
import threading
import time

SLICE = 0.02  # seconds of real waiting between two looks for the grader's word

_address: str | None = None
_student: str | None = None  # the student's folder, with a trailing separator
_real_sleep = time.sleep
_real_monotonic = time.monotonic
_real_time = time.time
_offset = 0.0  # how far this process's clock has jumped ahead: the timeouts that ran out
_real_allocate_lock = threading._allocate_lock
_real_wait_for_tstate_lock = getattr(threading.Thread, "_wait_for_tstate_lock", None)  # gone in 3.13
_condition_wait = threading.Condition.wait.__code__
_students_files: dict[str, bool] = {}


def install(address: str, student: str) -> None:
    """Route the student's timed waits in this process (and its forks) through the grader."""
    global _address, _student
    _address = address
    _student = os.path.realpath(student) + os.sep
    patch()


def patch() -> None:
    """Put the kit's timed waits in place of Python's; until install(), they wait as Python's do.

    The zygote (child/zygote.py) patches before it imports what it preloads, so a module that binds
    a clock or a wait when imported binds the kit's, as it would in a run of its own."""
    time.sleep = sleep
    # Code that counts the time left itself (queue.Queue.get, Condition.wait_for) must see
    # that a timeout ran out, so the process's clocks jump with the grader's.
    time.monotonic = monotonic
    time.time = wall_time
    threading._time = monotonic
    if "queue" in sys.modules:
        sys.modules["queue"].time = monotonic
    threading._allocate_lock = _allocate_lock
    if _real_wait_for_tstate_lock is not None:
        threading.Thread._wait_for_tstate_lock = _wait_for_tstate_lock
    try:
        import multiprocessing.connection
        import multiprocessing.synchronize
    except ImportError:  # no working sem_open: multiprocessing's locks do not exist here
        return
    synchronize = multiprocessing.synchronize.SemLock
    if not getattr(synchronize._make_methods, "kit_timed", False):
        synchronize._make_methods = _timed_make_methods(synchronize._make_methods)
    connection = multiprocessing.connection
    if not getattr(connection.wait, "kit_timed", False):
        connection.wait = _timed_connection_wait(connection.wait)


def acquire(lock, timeout) -> bool:
    """`lock.acquire(True, timeout)` for a threading lock, timed by the grader when the student waits."""
    if _timed(timeout):
        return bool(_within(lambda seconds: lock.acquire(True, seconds), timeout, "acquire"))
    return lock.acquire(True, timeout)


def sleep(seconds):
    if _timed(seconds):
        started = monotonic()
        timer = _Timer.start(seconds, "sleep")
        if timer is not None:
            with timer:
                timer.wait_for_word()
            _jump_to(started + seconds)
            return
    _real_sleep(seconds)


def wait_for(attempt, seconds, what):
    """A timed wait of the kit's own code, timed by the grader as the student's are: a probe's clock
    (the traffic light's phases) that must run on the virtual time the student's timeouts run on.

    `attempt(slice)` waits at most `slice` seconds for what ends the wait early; the result is what it
    gave last: true when that came, false when the grader let the time run out.
    """
    if _address is None or not 0 < seconds < 1e9:
        return attempt(seconds)
    return _within(attempt, seconds, what)


def monotonic():
    return _real_monotonic() + _offset


def wall_time():
    return _real_time() + _offset


def _jump_to(moment):
    """Move this process's clocks to at least `moment` (on the monotonic clock)."""
    global _offset
    _offset = max(_offset, moment - _real_monotonic())


sleep.__doc__ = _real_sleep.__doc__
monotonic.__doc__ = _real_monotonic.__doc__
wall_time.__doc__ = _real_time.__doc__


def _timed(timeout) -> bool:
    """Whether a wait of `timeout` seconds is one for the grader to time."""
    if _address is None or isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        return False
    return 0 < timeout < 1e9 and _by_student()


def _by_student() -> bool:
    """Whether the student's code is waiting: its line on the stack, or a Manager serving it."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "serve_client" and code.co_filename.endswith(os.path.join("multiprocessing", "managers.py")):
            return True
        found = _students_files.get(code.co_filename)
        if found is None:
            found = _students_files[code.co_filename] = os.path.realpath(code.co_filename).startswith(_student)
        if found:
            return True
        frame = frame.f_back
    return False


def _site() -> str:
    """The student's innermost line on this thread's stack, as "file.py:12"."""
    frame = sys._getframe(1)
    while frame is not None:
        if _students_files.get(frame.f_code.co_filename):
            return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return ""


def _within(attempt, seconds, what):
    """Wait with `attempt(slice)` until it gives something true, or until the grader says time is up.

    Returns the last thing `attempt` gave: true when the wait succeeded, false when it timed out.
    """
    got = attempt(0)
    if got:
        return got
    started = monotonic()
    timer = _Timer.start(seconds, what)
    if timer is None:
        return attempt(seconds)
    with timer:
        while True:
            got = attempt(SLICE)
            if got:
                return got
            if timer.expired():
                _jump_to(started + seconds)
                return got


class _Timer:
    """One timed wait, told to the grader over a connection that stays open while it lasts.

    Closing the connection tells the grader the wait is over; the grader's
    word "expire" tells the thread its timeout ran out.
    """

    def __init__(self, sock):
        self.sock = sock

    @classmethod
    def start(cls, seconds, what):
        message = {"pid": os.getpid(), "tid": threading.get_native_id(),
                   "thread": threading.current_thread().name, "timer": float(seconds),
                   "what": what, "site": _site()}
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(_address)
            sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError:  # the grader is gone: the run is over, keep the wall clock
            sock.close()
            return None
        return cls(sock)

    def expired(self) -> bool:
        try:
            return self.sock.recv(16, socket.MSG_DONTWAIT) is not None  # the word, or the grader gone
        except BlockingIOError:
            return False
        except OSError:
            return True

    def wait_for_word(self):
        try:
            self.sock.recv(16)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        # shutdown() ends the connection even when a fork made meanwhile holds a copy of it: the
        # grader must see this wait end, or it takes the program for busy until the deadline.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class _Waiter:
    """The lock a threading.Condition waits on, with its timed acquire timed by the grader."""

    __slots__ = ("_lock", "release", "locked")

    def __init__(self, lock):
        self._lock = lock
        self.release = lock.release
        self.locked = lock.locked

    def acquire(self, blocking=True, timeout=-1):
        if blocking and timeout != -1 and _timed(timeout):
            return bool(_within(lambda seconds: self._lock.acquire(True, seconds), timeout, "wait"))
        return self._lock.acquire(blocking, timeout)

    __enter__ = acquire

    def __exit__(self, *exc):
        self._lock.release()


def _allocate_lock():
    lock = _real_allocate_lock()
    if sys._getframe(1).f_code is _condition_wait:
        return _Waiter(lock)
    return lock


def _wait_for_tstate_lock(self, block=True, timeout=-1):
    if block and timeout != -1 and _timed(timeout):
        def ended(seconds):
            _real_wait_for_tstate_lock(self, True, seconds)
            return self._is_stopped
        _within(ended, timeout, "join")
        return
    _real_wait_for_tstate_lock(self, block, timeout)


def _timed_make_methods(make_methods):
    def timed_make_methods(self):
        make_methods(self)
        real = self.acquire

        def acquire(block=True, timeout=None):
            if block and timeout is not None and _timed(timeout):
                return bool(_within(lambda seconds: real(True, seconds), timeout, "acquire"))
            return real(block, timeout)
        self.acquire = acquire
    timed_make_methods.kit_timed = True
    return timed_make_methods


def _timed_connection_wait(real_wait):
    def wait(object_list, timeout=None):
        if timeout is not None and _timed(timeout):
            return _within(lambda seconds: real_wait(object_list, seconds), timeout, "wait") or []
        return real_wait(object_list, timeout)
    wait.kit_timed = True
    wait.__doc__ = real_wait.__doc__
    return wait
