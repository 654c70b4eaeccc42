"""Runs in the child process, next to the student's ktv.py.

It keeps no figure of its own: who was inside a room, and when, the grader
sees at each pause. The pause it hands ktv() traces the student's locks in
every process it reaches, so each pause also tells which semaphore its singer
held; with `fail`, every song raises SongFailed once the grader lets it end.
"""
import importlib
import sys

from graders.child import locktrace
from graders.child.errors import describe_exception

RETURNED = "kit:returned"
SING = "sing"


class SongFailed(Exception):
    """The grader's way of making a song go wrong: it is raised by pause('sing')."""


class SingerPause:
    """The grader's pause. Handed to a singer under spawn or forkserver, it is rebuilt there and
    traces that process's locks too."""

    def __init__(self, pause, module: str, fail: bool):
        self.pause = pause
        self.module = module
        self.fail = fail

    def __call__(self, stage="", *args, **kwargs):
        self.pause(stage)
        if self.fail and stage == SING:
            raise SongFailed("the microphone broke in the middle of the song (the grader's pause raised this)")

    def __reduce__(self):
        return _in_child, (self.pause, self.module, self.fail)

    def __repr__(self):
        return "pause"


def _in_child(pause, module, fail):
    try:
        student = sys.modules.get(module) or importlib.import_module(module)
        locktrace.trace(student)
    except Exception:  # the student's module failing to import is told by the child's own crash
        pass
    return SingerPause(pause, module, fail)


def ktv(student, pause, rooms, singers, fail=False):
    locktrace.trace(student)
    try:
        student.ktv(rooms, singers, pause=SingerPause(pause, student.__name__, fail))
    except SongFailed:
        # Raised only with `fail`: the song's own exception let out of ktv() (a Pool raises it again
        # at .get()) is allowed once every singer has left, which the pause below lets the grader see.
        pass
    pause(RETURNED)  # lets the grader see which singers were still running when ktv() returned


def bad_input(student, pause, cases):
    """Call ktv() once per case; report what each call raised or returned."""
    report = []
    for case in cases:
        try:
            returned = student.ktv(case["rooms"], case["singers"], pause=pause)
        except Exception as error:
            report.append({"raised": describe_exception(error, "/nonexistent")})
        else:
            report.append({"raised": None, "returned": repr(returned)[:200]})
    return report
