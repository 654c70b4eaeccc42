"""Runs in the child process, next to the student's rush.py.

`Arrive` is the `arrive` callable the grader hands to rush(). Each user calls
it in its own process with its user id, and waits in pause("arrive:ID"): the
lockstep scheduler holds every user at this start line until the whole program
is blocked, then lets them all go at once. That is a barrier of `users`
parties, with no timeout and no luck involved.

Since it runs in the user's process, it also watches that process's queues
(multiprocessing queues and Manager queue proxies alike):

- before a put, the user waits in pause("put:ID"): the grader decides the
  order in which the users' puts reach the queue;
- after full(), empty() or qsize() returns, the user waits in
  pause("check:ID"). Every user who checks before putting is then held between
  the check and the put until all of them have checked, so a check-then-put
  program races on every run, never by luck;
- after a put succeeds, the user waits in pause("won:ID"). This is the
  grader's own record of who got a phone, and a winner still alive when
  rush() returns shows that rush() did not wait for it.

In the student's main process, where the probe runs, every get() from a queue
first waits in pause("kit:take"), so the grader decides whether the winners
are taken off the queue before or after the other users try their luck (a
get frees a place on the queue).
"""
import functools
import sys
from multiprocessing import queues

ARRIVE, CHECK, PUT, WON = "arrive:", "check:", "put:", "won:"
TAKE, RETURNED, CASE = "kit:take", "kit:returned", "kit:case:"
CHECKS = ("full", "empty", "qsize")
PUTS = ("put", "put_nowait")
GETS = ("get", "get_nowait")

# The user this process runs now (a pool worker runs several in turn); None in
# the student's main process, and in a child until it calls arrive().
_now = {"user": None, "pause": None}


class Arrive:
    """The `arrive(user)` callable: picklable under every start method."""

    def __init__(self, pause):
        self.pause = pause

    def __call__(self, user, *args, **kwargs):
        _now.update(user=user, pause=self.pause)
        _watch_queues()
        self.pause(f"{ARRIVE}{user}")

    def __repr__(self):
        return "arrive"


def _mark(prefix):
    """In a user's process, pause at `prefix` + its user id."""
    if _now["pause"] is not None and _now["user"] is not None:
        _now["pause"](f"{prefix}{_now['user']}")


def _mark_take():
    """In the main process, pause before taking a winner off the queue."""
    if _now["pause"] is not None and _now["user"] is None:
        _now["pause"](TAKE)


def _after(method, prefix):
    """`method`, then a pause marking `prefix` when it returned (not when it raised)."""
    @functools.wraps(method)
    def watched(*args, **kwargs):
        result = method(*args, **kwargs)
        _mark(prefix)
        return result
    return watched


def _put(method):
    """`method` (a put), with a pause before it (the grader orders the puts) and one after it
    returned (the put succeeded)."""
    @functools.wraps(method)
    def watched(*args, **kwargs):
        _mark(PUT)
        result = method(*args, **kwargs)
        _mark(WON)
        return result
    return watched


def _before_take(method):
    @functools.wraps(method)
    def watched(*args, **kwargs):
        _mark_take()
        return method(*args, **kwargs)
    return watched


def _watched_call(method):
    """BaseProxy._callmethod, marking a Manager queue's checks, puts and gets."""
    @functools.wraps(method)
    def watched(self, methodname, *args, **kwargs):
        if methodname in GETS:
            _mark_take()
        elif methodname in PUTS:
            _mark(PUT)
        result = method(self, methodname, *args, **kwargs)
        if methodname in CHECKS:
            _mark(CHECK)
        elif methodname in PUTS:
            _mark(WON)
        return result
    return watched


def _watch_queues():
    """Patch this process's queue classes, once; a forked child inherits them.

    put_nowait() and get_nowait() call put() and get(), so those are enough.
    """
    if getattr(queues.Queue, "kit_watched", False):
        return
    for cls in (queues.Queue, queues.JoinableQueue):
        for name in CHECKS:
            if name in vars(cls):
                setattr(cls, name, _after(vars(cls)[name], CHECK))
        setattr(cls, "put", _put(vars(cls)["put"]))
    queues.Queue.get = _before_take(queues.Queue.get)
    queues.Queue.kit_watched = True
    # A user's process has it only if it was handed a Manager queue; importing it
    # costs more than starting a forkserver child, a hundred times over.
    managers = sys.modules.get("multiprocessing.managers")
    if managers is not None:
        managers.BaseProxy._callmethod = _watched_call(managers.BaseProxy._callmethod)


def _watch_main(pause):
    import multiprocessing.managers  # noqa: F401  (so that a Manager made later is watched too)

    _now.update(user=None, pause=pause)
    _watch_queues()


def rush(student, pause, users, stock):
    _watch_main(pause)
    ranking = student.rush(users=users, stock=stock, arrive=Arrive(pause))
    pause(RETURNED)  # lets the grader see which users were still running
    return ranking


def bad_input(student, pause, cases):
    """Call rush() once per case; report what each call raised or returned."""
    from graders.child.errors import describe_exception

    _watch_main(pause)
    report = []
    for number, case in enumerate(cases):
        pause(f"{CASE}{number}")  # if a case hangs, the grader knows which
        try:
            returned = student.rush(users=case["users"], stock=case["stock"], arrive=Arrive(pause))
        except Exception as error:
            report.append({"raised": describe_exception(error, "/nonexistent")})
        else:
            report.append({"raised": None, "returned": repr(returned)[:200]})
    return report
