"""A shop's books, kept by worker threads under two locks.

Every worker runs f1() and then f2(). f1 takes lock_A then lock_B; f2 takes
lock_B then lock_A; while holding both, each bumps its counter and calls
audit(), which takes lock_A once more to bump the audit counter.

Goal: no deadlock, whatever the interleaving, and exact counters. As it
stands, two workers that meet in f1 and f2 each hold one lock and wait for the
other's for ever, and audit() waits for a lock its own thread already holds.

Run it by hand with `python exercises/rlock/shop.py 3 2` (workers, rounds).
Do not change the names, the signature of run(), or the pause() calls: the
grader relies on them.
"""
import sys
import threading

# One re-entrant lock under both names: a thread may take it again (audit),
# and two names for one lock cannot be taken in opposite orders.
lock_A = lock_B = threading.RLock()


def no_pause(stage):
    """The default pause: go straight on."""


def bump(counters, name, pause):
    value = counters[name]
    pause("bump")
    counters[name] = value + 1


def audit(counters, pause):
    with lock_A:  # the caller already holds lock_A: this takes it a second time
        bump(counters, "audit", pause)


def f1(counters, pause):
    with lock_A:
        pause("f1")
        with lock_B:
            bump(counters, "f1", pause)
            audit(counters, pause)


def f2(counters, pause):
    with lock_B:
        pause("f2")
        with lock_A:
            bump(counters, "f2", pause)
            audit(counters, pause)


def worker(counters, rounds, pause):
    for _ in range(rounds):
        f1(counters, pause)
        f2(counters, pause)


def run(workers=3, rounds=1, pause=no_pause):
    """Start `workers` threads, each running f1() then f2() `rounds` times; return the counters."""
    for name, value in (("workers", workers), ("rounds", rounds)):
        if type(value) is not int or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    counters = {"f1": 0, "f2": 0, "audit": 0}
    threads = [threading.Thread(target=worker, args=(counters, rounds, pause)) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counters


def demo(workers, rounds):
    print(f"{workers} workers, {rounds} rounds: {run(workers, rounds)}")


if __name__ == "__main__":
    workers, rounds = (int(a) for a in (sys.argv[1:3] if len(sys.argv) > 2 else (3, 2)))
    # run() goes in a daemon thread (its workers are daemons too), so a deadlock ends the demo.
    shop = threading.Thread(target=demo, args=(workers, rounds), daemon=True)
    shop.start()
    shop.join(timeout=5)
    if shop.is_alive():
        sys.exit(f"{workers} workers, {rounds} rounds: not done after 5 s, deadlocked")
