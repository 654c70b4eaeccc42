"""Whether a run at its deadline had the CPU to get anywhere.

A deadline is wall time, and a loaded machine (other gradings, other users)
can starve a run of the CPU: a program that would have gone past the memory
cap, or finished, in its first second of CPU time reaches its deadline
first, and its verdict would depend on the load. So a run still busy at its
deadline that has had less than FLOOR of it in CPU time (its processes, their
children it ended, multiprocessing's helpers) runs on until it has, or until
BACKSTOP deadlines of wall time have passed. A busy program on an idle
machine has had its CPU by then: there nothing changes; a program that only
waits is not busy, and gets no more time.
"""
from __future__ import annotations

import os

FLOOR = 0.5  # of the deadline, in CPU seconds, that a busy run has before its deadline is told
BACKSTOP = 3  # deadlines of wall time, whatever CPU the run had
LOOK = 0.1  # seconds between two looks, once past the deadline
QUIET_LOOKS = 2  # looks in a row that find the run not busy: one look can catch a thread between two steps

_TICK = os.sysconf("SC_CLK_TCK")


class Deadline:
    """The deadline of one run, told only once the run had its chance."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.last = 0.0
        self.quiet = 0

    def reached(self, tree, elapsed: float) -> bool:
        if elapsed <= self.seconds:
            return False
        if elapsed > self.seconds * BACKSTOP:
            return True
        if elapsed - self.last < LOOK:
            return False
        self.last = elapsed
        members = tree.members()
        everyone = list(members) + [pid for pid in tree.helpers if pid not in members]
        if not tree.busy(members):
            self.quiet += 1
            return self.quiet >= QUIET_LOOKS
        self.quiet = 0
        return cpu_seconds(everyone) >= self.seconds * FLOOR


def cpu_seconds(pids) -> float:
    """User and system time of these processes and of the children they waited for."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
            ticks += sum(int(n) for n in data[data.rfind(b")") + 2:].split()[11:15])
        except (OSError, ValueError):
            continue
    return ticks / _TICK
