"""Runs in the child process, next to the student's tickets.py."""
import importlib
import os
import sys

from graders.child import locktrace
from graders.child.errors import describe_exception
from graders.engine import stacks

RETURNED = "kit:returned"
BUYER = "kit:buyer "  # + the buyer's i: which buyer this process is, as its own arguments say


class TracingPause:
    """The grader's pause. Handed to a buyer under spawn or forkserver, it is rebuilt there and traces
    that process's locks too, so each pause tells the grader which locks its buyer held.

    With `buyers` given, a buyer's first pause is preceded by pause("kit:buyer I"): the i it was
    started with, so that the grader can tell which buyer i a process is, in whatever order they
    were started."""

    def __init__(self, pause, module: str, buyers=None):
        self.pause = pause
        self.module = module
        self.buyers = buyers
        self.told = None  # the process that said which buyer it is (a forked child has a copy)

    def __call__(self, stage="", *args, **kwargs):
        if self.buyers is not None and self.told != os.getpid():
            self.told = os.getpid()
            index = buyer_index(sys._getframe(1), self.buyers)
            if index is not None:
                self.pause(f"{BUYER}{index}")
        self.pause(stage)

    def __reduce__(self):
        return _in_child, (self.pause, self.module, self.buyers)

    def __repr__(self):
        return "pause"


def buyer_index(frame, buyers):
    """The buyer's i: the one whole number in range(buyers) among the arguments of the innermost
    function of the student's code, on the way out of pause(), that has one. Its target (buyer(...,
    i, ...)), a Pool's task function or a function in between: whichever spelling called pause().
    None when a function has several such numbers, or none has one."""
    folder = os.environ.get("KIT_STUDENT_DIR", "")
    while frame is not None and folder and stacks.inside(frame.f_code.co_filename, folder):
        code = frame.f_code
        names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
        found = [v for v in (frame.f_locals.get(n) for n in names) if type(v) is int and 0 <= v < buyers]
        if len(found) > 1:
            return None
        if found:
            return found[0]
        frame = frame.f_back
    return None


def _in_child(pause, module, buyers=None):
    try:
        student = sys.modules.get(module) or importlib.import_module(module)
        locktrace.trace(student)
    except Exception:  # the student's module failing to import is told by the child's own crash
        pass
    return TracingPause(pause, module, buyers)


def sell(tickets, pause, db_path, buyers, tell_buyers=False):
    locktrace.trace(tickets)
    traced = TracingPause(pause, tickets.__name__, buyers if tell_buyers else None)
    result = tickets.sell(db_path, buyers, pause=traced)
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
