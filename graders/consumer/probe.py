"""Runs in the child process: the grader's producer, around the student's consume().

The consumers get a WatchedQueue and a Handle. Both are the grader's. They
write every step a consumer takes to a log of its own (log_dir/consumer-N.log:
a get and what it returned, handle() entered and left, task_done()), which
costs no step of the scheduler, and they pause where the grader needs the
program held:

    handle:<repr>            inside handle(item); it returns (or raises) when released
    q.get(timeout)           a get with a time limit begins ...
    q.get(timeout):returned  ... and returned an item
    q.get:Empty              a get raised queue.Empty

The producer runs in a thread of this process and marks its own moments:
"kit:busy" (it holds itself with nothing new on the queue; the grader's
`choose` keeps it there until every consumer is idle), "kit:put" (a slow
producer, after each put), "kit:joined" (the first q.join() returned; held
like "kit:busy" before the STOPs go out), "kit:stopped" (the second q.join()
returned), "kit:returned" (it is about to return: the grader sees which
processes are still alive). The main thread watches the consumers and
returns as soon as one ends before the STOPs were sent, or all have ended
while the producer still waits: a dead consumer is reported at once.
"""
import multiprocessing
import multiprocessing.connection
import multiprocessing.queues
import os
import queue
import threading

BURNT = "this bun is burnt"  # names no item: the student's report must


class BurntBun(Exception):
    """An exception class of the grader's own: no `except` clause can name it but Exception."""


class Unprintable(Exception):
    """An error whose str() itself fails: a consumer that writes it with str() dies of it."""

    def __str__(self):
        raise RuntimeError("this error cannot be turned into text")


# What handle() raises, by the name the grader gives it: several kinds, so that only a consumer
# that survives every Exception survives them all.
ERRORS = {"ValueError": ValueError, "KeyError": KeyError, "RuntimeError": RuntimeError,
          "BurntBun": BurntBun, "Unprintable": Unprintable}


class Log:
    """Appends a consumer's steps to log_dir/<process name>.log, one line each."""

    def __init__(self, folder):
        self.folder = folder

    def __call__(self, kind, *item):
        name = multiprocessing.current_process().name
        line = f"{kind} {item[0]!r}\n" if item else f"{kind}\n"
        fd = os.open(os.path.join(self.folder, f"{name}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


class WatchedQueue(multiprocessing.queues.JoinableQueue):
    """A JoinableQueue that logs every get and task_done."""

    def __init__(self, pause, log, ctx):
        super().__init__(0, ctx=ctx)
        self._kit = (pause, log)

    def __getstate__(self):
        return super().__getstate__() + (self._kit,)

    def __setstate__(self, state):
        super().__setstate__(state[:-1])
        self._kit = state[-1]

    def get(self, block=True, timeout=None):
        pause, log = self._kit
        timed = block and timeout is not None
        if timed:
            log("timed")
            pause("q.get(timeout)")  # the grader's `choose` lets a busy producer wait for this one
        try:
            item = super().get(block, timeout)
        except queue.Empty:
            log("empty")
            pause("q.get:Empty")
            raise
        log("got", item)
        if timed:
            pause("q.get(timeout):returned")
        return item

    def put(self, obj, block=True, timeout=None):
        if multiprocessing.current_process().name.startswith("consumer-"):  # a consumer putting back
            self._kit[1]("put", obj)
        return super().put(obj, block, timeout)

    def task_done(self):
        self._kit[1]("done")
        super().task_done()


class Handle:
    """The grader's handle(item): held inside until released; raises for burnt items."""

    def __init__(self, pause, log, burnt=()):
        self.pause = pause
        self.log = log
        # {item repr: name of the error in ERRORS}; a list of reprs raises ValueError for each
        self.burnt = dict(burnt) if isinstance(burnt, dict) else dict.fromkeys(burnt, "ValueError")

    def __call__(self, item):
        self.log("handle", item)
        self.pause(f"handle:{item!r}")
        if repr(item) in self.burnt:
            self.log("raised", item)
            raise ERRORS[self.burnt[repr(item)]](BURNT)
        self.log("handled", item)


def feed(consumer, pause, log_dir, consumers, bursts, first="consumers", slow=False, burnt=()):
    """Feed `bursts` of items to `consumers` processes running consumer.consume().

    Before every burst but a first one put ahead of the consumers, and before
    the STOPs, the producer is busy with nothing new on the queue.
    """
    log = Log(log_dir)
    q = WatchedQueue(pause, log, multiprocessing.get_context())
    handle = Handle(pause, log, burnt)
    procs = [multiprocessing.Process(target=consumer.consume, args=(q, handle), name=f"consumer-{n}")
             for n in range(1, consumers + 1)]
    state = {"phase": "items", "error": None, "stopped": False}
    done_r, done_w = os.pipe()

    def put_burst(burst):
        for item in burst:
            q.put(item)
            if slow:
                pause("kit:put")

    def produce(bursts):
        try:
            for burst in bursts:
                pause("kit:busy")
                put_burst(burst)
            q.join()
            pause("kit:joined")  # held like "kit:busy": the producer pauses before the STOPs
            state["phase"] = "stops"
            for _ in procs:
                q.put(None)
            q.join()
            state["stopped"] = True
            pause("kit:stopped")
            state["phase"] = "done"
        except BaseException as error:  # a bug of the kit, reported as such
            state["error"] = repr(error)
        finally:
            os.write(done_w, b".")

    if first == "producer":
        put_burst(bursts[0])
        bursts = bursts[1:]
    for p in procs:
        p.start()
    threading.Thread(target=produce, args=(bursts,), daemon=True).start()

    exits = {}
    running = {p.sentinel: p for p in procs}
    while True:
        ready = multiprocessing.connection.wait(list(running) + [done_r])
        for sentinel in ready:
            if sentinel in running:
                p = running.pop(sentinel)
                p.join()
                exits[p.name] = p.exitcode
        if done_r in ready or state["phase"] == "items" and exits:
            break
        if not running:
            # Every consumer has ended. Once the program is quiet, a producer
            # whose second q.join() returned is held in "kit:stopped"; one
            # still inside q.join() will never leave it.
            pause("kit:all-ended")
            if state["stopped"]:
                os.read(done_r, 1)
            break
    # After "kit:stopped" was released the whole program was quiet: a consumer
    # that returned after its STOP has ended by then; one still alive never will.
    still_running = [p.name for p in procs if state["phase"] == "done" and p.is_alive()]  # and reaps the rest
    pause("kit:returned")  # the grader counts for itself which processes are still there
    return {"exits": exits, "phase": state["phase"], "still_running": still_running,
            "producer_error": state["error"]}
