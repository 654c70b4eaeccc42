"""Runs in the child process, next to the student's collect.py.

The grader's `func` is a Task: a picklable object that calls pause("task:A")
for its argument A, so the lockstep scheduler sees every call that is in
flight, then returns "done A" or raises the exception it was told to.
"""
import multiprocessing.pool
import os

from graders.child.errors import describe_exception

TASK = "task:"
RETURNED = "kit:returned"


class TaskError(Exception):
    """An exception type of the grader's own, so its type is not a guess."""


ERRORS = {"ValueError": ValueError, "TaskError": TaskError}


def result_of(a):
    return f"done {a}"


class Task:
    """func(a): wait in pause("task:a"), then return "done a" or raise."""

    def __init__(self, pause, failures=None):
        self.pause = pause
        self.failures = {int(a): name for a, name in (failures or {}).items()}

    def __call__(self, a):
        self.pause(f"{TASK}{a}")
        if a in self.failures:
            raise ERRORS[self.failures[a]](f"task {a} failed")
        return result_of(a)


def instrument(marks):
    """Watch every multiprocessing Pool the student makes, from this process.

    Each pool is kept in POOLS, so no garbage collection can tidy up a pool
    that the student left running: its workers stay visible to the grader, and
    its state tells whether it was ever closed. And whenever a pool is
    terminated with results still awaited, a line goes to `marks`: leaving
    `with Pool() as pool:` terminates the pool, and a .get() after that waits
    forever; the grader reads the file only to explain such a hang.
    """
    pool_class = multiprocessing.pool.Pool
    init, terminate = pool_class.__init__, pool_class.terminate

    def kept_init(pool, *args, **kwargs):
        init(pool, *args, **kwargs)
        POOLS.append(pool)

    def noting_terminate(pool):
        if getattr(pool, "_cache", None):  # the jobs whose results are still awaited
            with open(marks, "a") as f:
                f.write("terminated\n")
        return terminate(pool)

    pool_class.__init__, pool_class.terminate = kept_init, noting_terminate


POOLS = []


def call(pool_module, task, args, processes):
    """One call of collect(); what it returned or raised, and how many of its pools it left running."""
    made = len(POOLS)
    try:
        report = {"returned": pool_module.collect(task, args, processes)}
    except Exception as error:
        report = {"raised": describe_exception(error, os.path.dirname(pool_module.__file__))}
    # A pool still in state RUN was never closed nor terminated: dropping it
    # would give the "unclosed running multiprocessing pool" ResourceWarning.
    report["unclosed"] = sum(pool._state == multiprocessing.pool.RUN for pool in POOLS[made:])
    # Workers of a closed pool that nobody joined. Under forkserver the server reaps a worker that
    # ends, so the grader cannot see it left behind as it can under fork and spawn: this count lets
    # the same mistake be told under every start method. Read without polling, which would join them.
    report["unjoined"] = sum(_never_joined(worker) for pool in POOLS[made:]
                             if pool._state != multiprocessing.pool.RUN for worker in pool._pool)
    return report


def _never_joined(worker) -> bool:
    popen = getattr(worker, "_popen", None)  # a ThreadPool's workers are threads: none
    return popen is not None and popen.returncode is None


def collect(pool_module, pause, args, processes, marks, failures=None):
    """collect(Task, args, processes) once; then a marker, to see which workers are left."""
    instrument(marks)
    report = call(pool_module, Task(pause, failures), args, processes)
    pause(RETURNED)
    report["main_pid"] = os.getpid()
    return report


def leaks(pool_module, pause, args, processes, marks, failures):
    """One call that returns and one that raises, each followed by its own marker."""
    instrument(marks)
    reports = {}
    for path, fails in (("returned", None), ("raised", failures)):
        reports[path] = call(pool_module, Task(pause, fails), args, processes)
        pause(f"{RETURNED}:{path}")
    return reports


def each(pool_module, pause, cases, marks):
    """collect() on each case, each call followed by its own marker; what each returned or raised."""
    instrument(marks)
    task = Task(pause)
    reports = []
    for n, case in enumerate(cases):
        reports.append(call(pool_module, task, case["args"], case["processes"]))
        pause(f"{RETURNED}:{n}")
    return reports
