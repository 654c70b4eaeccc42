"""Whether the locks the workers said they held at their pauses can be true.

Which locks a thread holds at a pause (`Arrival.locks`) is told by the
program's own process, so it is the program's claim: bump_is_exclusive uses it
only to fail a bump that lacks a lock. A submission that forges it (every pause
says "lock_A and lock_B") could hide such a bump; so the claims are first held
against what the grader saw and against each other, and a set of claims that
cannot be true fails the check:

- two threads held at the same moment (in one release) both holding one Lock
  or RLock: a lock has one holder;
- lock_A (or lock_B) being one lock in one thread's pauses and another in
  another's: the names are module globals, one lock each for the whole run.
"""
from __future__ import annotations

from graders.engine.lockgraph import SEMAPHORES

NAMES = ("lock_A", "lock_B")


def impossible(trace) -> str | None:
    """What in the claims cannot be true, in words; None when they can all be."""
    for batch in trace.batches:
        holders: dict[str, tuple] = {}
        for arrival in batch.arrivals:
            for held in arrival.locks:
                if held.kind in SEMAPHORES:
                    continue  # several threads may hold a semaphore
                other = holders.setdefault(held.key, (arrival, held))[0]
                if (other.pid, other.tid) != (arrival.pid, arrival.tid):
                    return (f"{other.thread} and {arrival.thread} both said they held {held.name} while the grader "
                            "held them at the same moment, which a lock does not allow")
    keys: dict[str, str] = {}
    for arrival in trace.arrivals:
        for held in arrival.locks:
            for name in set(held.names) & set(NAMES):
                if keys.setdefault(name, held.key) != held.key:
                    return f"{name} was one lock in some pauses and another lock in others"
    return None
