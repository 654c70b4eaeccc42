"""Runs in the child process, next to the student's shop.py.

It keeps no figure of its own: which worker threads were alive, and when, the
grader reads from /proc at each release (graders/rlock/observe.py), so a
submission that sets a counter here changes nothing.
"""
from graders.child import locktrace
from graders.child.errors import describe_exception

RETURNED = "kit:returned"


def run(shop, pause, workers, rounds):
    locktrace.trace(shop)  # a hang is told as a deadlock, and each pause says which locks its thread holds
    counters = shop.run(workers=workers, rounds=rounds, pause=pause)
    pause(RETURNED)  # lets the grader see which worker threads are still alive when run() has returned
    return {"counters": counters}


def bad_input(shop, pause, cases):
    """Call run() once per case; report what each call raised or returned."""
    report = []
    for case in cases:
        try:
            returned = shop.run(workers=case["workers"], rounds=case["rounds"], pause=pause)
        except Exception as error:
            report.append({"raised": describe_exception(error, "/nonexistent")})
        else:
            report.append({"raised": None, "returned": repr(returned)[:200]})
    return report
