"""Runs in the child process, next to the student's shop.py."""
import threading

from graders.engine import locktrace
from graders.engine.exceptions import describe_exception


class CountingPause:
    """The grader's pause, and the most worker threads seen alive at one release.

    Counted when a thread is let go, when every thread of the program is
    blocked, so a thread that run() has not started yet is not missed.
    """

    def __init__(self, pause):
        self.pause = pause
        self.most_alive = 0

    def __call__(self, stage="", *args, **kwargs):
        self.pause(stage)
        self.most_alive = max(self.most_alive, len(_workers()))


def _workers():
    return [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]


def run(shop, pause, workers, rounds):
    locktrace.trace(shop)  # a hang is then told as a deadlock: who holds what, who waits for what
    counting = CountingPause(pause)
    counters = shop.run(workers=workers, rounds=rounds, pause=counting)
    return {"counters": counters, "most_alive": counting.most_alive, "left_running": len(_workers())}


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
