"""Runs in the child process, next to the student's tickets.py."""
import importlib
import sys

from graders.child import locktrace
from graders.child.errors import describe_exception

RETURNED = "kit:returned"


class TracingPause:
    """The grader's pause. Handed to a buyer under spawn or forkserver, it is rebuilt there and traces
    that process's locks too, so each pause tells the grader which locks its buyer held."""

    def __init__(self, pause, module: str):
        self.pause = pause
        self.module = module

    def __call__(self, stage="", *args, **kwargs):
        self.pause(stage)

    def __reduce__(self):
        return _in_child, (self.pause, self.module)

    def __repr__(self):
        return "pause"


def _in_child(pause, module):
    try:
        student = sys.modules.get(module) or importlib.import_module(module)
        locktrace.trace(student)
    except Exception:  # the student's module failing to import is told by the child's own crash
        pass
    return TracingPause(pause, module)


def sell(tickets, pause, db_path, buyers):
    locktrace.trace(tickets)
    result = tickets.sell(db_path, buyers, pause=TracingPause(pause, tickets.__name__))
    pause(RETURNED)  # lets the grader see which buyers were still running, and read the ticket file
    return result


def bad_input(tickets, pause, cases):
    """Call sell() once per case; report what each call raised or returned."""
    report = []
    for case in cases:
        try:
            returned = tickets.sell(case["db_path"], case["buyers"], pause=pause)
        except Exception as error:
            report.append({"raised": describe_exception(error, "/nonexistent")})
        else:
            report.append({"raised": None, "returned": repr(returned)[:200]})
    return report
