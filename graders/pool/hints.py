"""What pool's reports tell a student to do, by the mistake a run showed."""
from __future__ import annotations

from graders.engine.checks import PICKLING_HINT, pickling_hint

SERIAL_HINT = ("apply_async() returns at once; calling .get() right after it waits for that task before the "
               "next one is sent, and pool.apply() does the same. Submit every task first, keep the "
               "AsyncResults in a list, then .get() each one. (pool.map with a chunksize as large as args "
               "does the same: one worker gets every task.)")
SIZE_HINT = "Make the pool with exactly the number of workers asked for: multiprocessing.Pool(processes)."
ORDER_HINT = "Return one result per argument, func(a) for each a, in the order of args, with nothing sorted or dropped."
CLOSE_HINT = ("Make a new pool in each call and shut it down on every path, errors too: close() and join() it "
              "in a finally: block, or use `with Pool(...) as pool:` and collect every result inside it.")
UNCLOSED = "Python warns \"unclosed running multiprocessing pool\" when such a pool is dropped"


# A Pool pickles its tasks under every start method, not under spawn and forkserver only as
# PICKLING_HINT says of a Process's target and args.
POOL_PICKLING_HINT = ("A Pool pickles every task it sends to a worker (the function and its arguments) and every "
                      "result, under every start method: the function must be defined at the top level of a "
                      "module, not inside another function or as a lambda; pass data as arguments.")
CHUNK_HINT = ("The pool had its workers, but the tasks were handed out in chunks: each worker ran its chunk one "
              "task after another. With chunksize=1 (or apply_async for each task), every worker gets a task.")
TERMINATED_HINT = ("Leaving `with Pool() as pool:` calls pool.terminate(), which stops the workers, so a .get() "
                   "after the block waits forever. Collect every result inside the with-block.")


def pool_pickling_hint(*texts):
    """checks.pickling_hint, in the words that are true of a Pool."""
    hint = pickling_hint(*texts)
    return pool_words(hint)


def pool_words(hint):
    if hint and hint.startswith(PICKLING_HINT):
        return POOL_PICKLING_HINT + hint[len(PICKLING_HINT):]
    return hint
