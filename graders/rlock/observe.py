"""What the grader sees of the shop's threads, in the grading process.

At every release the scheduler calls `choose(held, trace)` while the whole
program is blocked; `Observer` reads then, from /proc, which threads of the
program's process exist. A worker is a thread that called pause() at one of
the shop's stages. Nothing here is taken from the student's process.

`Observer(order=seed)` also explores: instead of letting every held thread go
at once, it lets one go at a time, picked by a seeded random choice, so that
interleavings that need an order (one worker leaving a lock just as another
takes it) are tried too, the same ones on every grade.
"""
from __future__ import annotations

import os
import random

RETURNED = "kit:returned"
WORKER_STAGES = ("f1", "f2", "bump")


class Observer:
    def __init__(self, order: int | None = None):
        self.random = random.Random(order) if order is not None else None
        self.order = order
        self.alive: list[set[int]] = []  # at each release: thread ids alive in the program's processes
        self.at_return: set[int] | None = None  # the same, when run() had returned

    def __call__(self, held, trace):
        pids = {a.pid for a in held}
        alive = set()
        for pid in pids:
            try:
                alive |= {int(t) for t in os.listdir(f"/proc/{pid}/task")}
            except (OSError, ValueError):
                pass
        self.alive.append(alive)
        if any(a.stage == RETURNED for a in held):
            self.at_return = alive
        if self.random is None or len(held) < 2:
            return held
        return [self.random.choice(held)]

    @staticmethod
    def workers(trace) -> set[int]:
        return {a.tid for a in trace.arrivals if a.stage in WORKER_STAGES}

    def most_alive(self, trace) -> int:
        workers = self.workers(trace)
        return max((len(alive & workers) for alive in self.alive), default=0)

    def left_running(self, trace) -> int:
        return len((self.at_return or set()) & self.workers(trace))
