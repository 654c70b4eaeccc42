"""Buns on a JoinableQueue: the producer puts buns, consumers eat them.

Goal: write consume(q, handle), the loop each consumer process runs. It takes
items with a blocking q.get(), passes each one to handle(item), and marks each
one done with q.task_done() once handle() has finished, even when handle()
raised, so that the producer's q.join() returns exactly when every bun is
eaten. On STOP it marks the STOP done and returns.

Run it by hand with `python exercises/consumer/consumer.py`. Do not change
STOP, the signature of consume(), or the producer side below: the grader calls
consume() with a queue and a handle() of its own.
"""
import multiprocessing
import os
import random
import sys
import threading
import time

STOP = None  # the producer puts one per consumer after the last bun: "no more buns"


def consume(q, handle):
    """Take items from q until STOP; handle each one and mark it done."""
    while True:
        res = q.get()
        # TODO: `not res` is also true for buns such as 0, "" or False. Stop on
        # STOP only, and mark the STOP done too: the producer's second q.join()
        # waits for it.
        if not res:
            break
        # TODO: when handle() raises, this consumer dies, the bun is never marked
        # done, and q.join() waits forever. Write the error to stderr, naming the
        # item, mark the item done anyway, and go on with the next one.
        handle(res)
        q.task_done()


# ---- the producer side: the grader has its own, so leave this as it is ----

def eat(bun):
    """The demo's handle(): eat one bun, slowly. A burnt bun raises."""
    time.sleep(random.uniform(0.01, 0.05))
    if bun == "burnt":
        raise ValueError("this bun is burnt")
    print(f"{multiprocessing.current_process().name} ate {bun!r}", flush=True)


def produce(buns, consumers=2, handle=eat):
    """Start the consumers, put the buns, wait until all are eaten, then stop them."""
    q = multiprocessing.JoinableQueue()
    workers = [multiprocessing.Process(target=consume, args=(q, handle), name=f"consumer {i + 1}")
               for i in range(consumers)]
    for w in workers:
        w.start()
    for bun in buns:
        q.put(bun)
    q.join()  # returns once every bun was marked done
    for _ in workers:
        q.put(STOP)
    q.join()  # returns once every STOP was marked done
    for w in workers:
        w.join()
    return [w.exitcode for w in workers]


def give_up(seconds):
    """The demo's watchdog: a q.join() that never returns ends the demo, consumers too."""
    print(f"\nThe demo gave up after {seconds} s: q.join() is still waiting. Some bun or STOP "
          "was never marked done, or a consumer died holding one.", file=sys.stderr, flush=True)
    for child in multiprocessing.active_children():
        child.kill()
    os._exit(1)


if __name__ == "__main__":
    watchdog = threading.Timer(5, give_up, args=(5,))
    watchdog.daemon = True
    watchdog.start()
    codes = produce([1, 2, 0, "burnt", "", 3, False], consumers=2)
    watchdog.cancel()
    print(f"every bun eaten; the consumers ended with exit codes {codes}")
