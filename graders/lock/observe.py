"""Who bought, as the grader sees it: one held buyer let go at a time, the ticket file read in between.

`WhoBought(db, first)` is a `choose` for the scheduler (it runs in the grading
process, while the whole program is blocked). It lets one buyer go at a time,
always the first of the held ones in a fixed order of their pids (lowest
first, or highest first), so the buyer the grader picks is the one that
reaches the ticket first. After a buyer is let go from pause("buy"), the next
look at the ticket file says whether its count went down: then that buyer
bought. Which buyer i a process is, pid order does not say (a program may start
them in any order): `told_buyers` reads it from the arrivals.
"""
from __future__ import annotations

import re

from graders.sandbox import untrusted

STAGES = ("search", "buy")
_BUYER = re.compile(r"kit:buyer (\d{1,4})")  # graders/lock/probe.py BUYER


def told_buyers(trace) -> dict[int, int]:
    """pid -> the i each buyer process said it was started with, at a pause the kernel names it for.

    It is the program's own word, as its result is: it says which result[i] is that process's.
    """
    told = {}
    for arrival in trace.arrivals:
        match = _BUYER.fullmatch(arrival.stage)
        if match and arrival.pid not in told:
            told[arrival.pid] = int(match[1])
    return told


class WhoBought:
    def __init__(self, db_path, first: str):
        self.db_path = db_path
        self.highest_first = first == "highest"
        self.count = self._read()
        self.released = None  # the pid let go from pause("buy") at the last step
        self.bought: list[int] = []

    def _read(self):
        # The buyers are running: a FIFO or a link in the file's place must not hold up the grader.
        try:
            count = untrusted.loads(untrusted.read_text(self.db_path, 1 << 16)).get("count")
        except (TypeError, ValueError, AttributeError):
            return None
        return count if type(count) is int else None

    def __call__(self, held, trace):
        count = self._read()
        if self.released is not None and None not in (count, self.count) and count < self.count:
            self.bought.append(self.released)
        self.count, self.released = count, None
        buyers = [a for a in held if a.stage in STAGES]
        if len(buyers) < len(held):  # a buyer saying who it is, or sell() returning: not a step of the sale
            return [a for a in held if a.stage not in STAGES]
        pick = (max if self.highest_first else min)(buyers, key=lambda a: (a.pid, a.seq))
        if pick.stage == "buy":
            self.released = pick.pid
        return [pick]
