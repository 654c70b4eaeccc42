"""Replay a run of the consumers and name the first thing that went wrong, in
a student's words.

Each consumer's log (see probe.py) gives the order of its gets, handle() calls
and task_done() calls; the scheduler's trace gives the batches in which the
handle() calls were released and the producer's first q.join() returned.

Summaries name the mistake, not the consumer: with two consumers, which one
takes which item depends on the machine, and the summary must not.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from graders.sandbox import untrusted
from graders.engine.checks import CheckFailure

EMPTY = "q.get:Empty"  # stages of the trace (see probe.py)
TIMED = "q.get(timeout)"
HANDLE = "handle:"
STOP = "None"  # repr(STOP)
CONTRACT = "for each item: q.get(), then handle(item), then one q.task_done()"

DONE_EARLY_HINT = ("Call q.task_done() after handle(item) has returned or raised, never before: put it in a "
                   "`finally:` right after the call. q.join() trusts task_done(): the producer goes on as soon "
                   "as every item is marked.")
TWICE_HINT = ("Each item taken with q.get() gets exactly one q.task_done(). A `finally:` already runs on every "
              "path, so do not call task_done() in the `try:` or `except:` block as well.")
FALSY_HINT = ("Test `item is STOP`: `not item` is also true for 0, '', [] and False, which are items to "
              "handle like any other.")
DIED_HINT = ("Catch the exception around handle(item) with try/except Exception, write it to stderr naming "
             "the item, mark the item done in a `finally:`, and go on with the next item.")
BUSY_HINT = ("A slow producer is not a finished one: only STOP means no more items. Take items with a plain "
             "blocking q.get(): no timeout, no get_nowait(), no q.empty() test.")
LOST_HINT = ("Call q.task_done() once for every item taken, after handle(item): in a `finally:`, so that it "
             "runs whether handle() returned or raised.")
KIND_HINT = ("The consumer went on after one error of handle() and died of another kind: it catches some "
             "errors, not all. handle() may raise any exception: catch Exception, not ValueError or a list "
             "of the kinds you expect.")
UNPRINTABLE_HINT = ("Some errors cannot be turned into text: their str() raises, and print(error) or "
                    "f\"{error}\" raises with it. Write repr(error) (f\"{error!r}\"), or use "
                    "traceback.print_exc() or logging.exception(), which cope with such errors.")
STOP_HINT = ("STOP is an item on the queue like any other: the producer's second q.join() waits for a "
             "task_done() for it. Mark it done, then return.")
# The checks, by the property each judges: a mistake is told to the checks whose property it breaks.
FALSY, ONCE, JOIN = "eats_falsy_items", "handles_every_item_once", "join_waits_for_handle"
MARKS, STOPS, SURVIVES, SLOW = ("marks_each_item_done_once", "stop_ends_consumers", "survives_failing_handle",
                                "waits_for_slow_producer")
ALL = "every check"  # a crash, or a hang nothing else explains
STOP_BACK_HINT = ("The producer sends one STOP per consumer, so each consumer takes its own: do not put STOP back "
                  "on the queue. Mark it done and return.")
NOISE = ("resource_tracker", "warnings.warn(")  # multiprocessing's own shutdown chatter


@dataclass
class Consumer:
    """One consumer process: its steps from its log, and how it ended."""

    number: int
    exit_code: int | None  # None: not seen ending
    steps: list = field(default_factory=list)  # (kind, item repr or None), in order
    open: list = field(default_factory=list)  # [item repr, state], taken and not yet marked done

    @property
    def name(self) -> str:
        return f"consumer {self.number}"

    @property
    def took_stop(self) -> bool:
        return ("got", STOP) in self.steps


def read_log(path: Path, cap: int = 1 << 20) -> list:
    """A consumer's steps. The file is the student's processes': never follow a link, read at most `cap`."""
    data = untrusted.read_bytes(path, cap) or b""
    lines = data.decode(errors="replace").splitlines()
    return [(kind, item or None) for kind, _, item in (line.partition(" ") for line in lines)]


class Replay:
    def __init__(self, outcome, log_dir, consumers, items, burnt=()):
        self.outcome = outcome
        self.trace = outcome.trace
        self.result = outcome.value if isinstance(outcome.value, dict) else {}
        self.items = {repr(i): i for i in items}
        self.burnt = dict(burnt) if isinstance(burnt, dict) else dict.fromkeys(burnt, "ValueError")
        exits = self.result.get("exits", {})
        self.consumers = [Consumer(n, exits.get(f"consumer-{n}"), read_log(Path(log_dir) / f"consumer-{n}.log"))
                          for n in range(1, consumers + 1)]
        self.released = {}  # arrival seq -> index of the batch that released it
        for index, batch in enumerate(self.trace.batches):
            for a in batch.arrivals:
                self.released[a.seq] = index

    def when(self, arrival) -> float:
        """The batch that released `arrival`; never released counts as after everything."""
        return self.released.get(arrival.seq, float("inf"))

    def stderr_tail(self, lines=8) -> list[str]:
        kept = [line for line in self.outcome.stderr.strip().splitlines()
                if line.strip() and not any(n in line for n in NOISE)]
        return ["the program wrote to stderr:"] + ["    " + line for line in kept[-lines:]] if kept else []

    def story(self, c: Consumer, upto=None, limit=14) -> str:
        """What `c` did, in order, up to step number `upto`."""
        shown = [_say(kind, item) for kind, item in c.steps[:None if upto is None else upto + 1]]
        shown = [s for s in shown if s]
        more = upto is not None and upto + 1 < len(c.steps)
        if len(shown) > limit:
            shown = ["..."] + shown[-limit:]
        return f"{c.name} did: " + ", ".join(shown + (["..."] if more else [])) if shown else f"{c.name} took nothing"

    def last_raised(self, c: Consumer):
        """The item whose handle() raised last in `c`, if no other item was taken since."""
        for kind, item in reversed(c.steps):
            if kind == "raised":
                return item
            if kind in ("got", "handled"):
                return None
        return None

    def survived(self, c: Consumer) -> bool:
        """Whether `c` went on after an earlier error of handle(): then it catches some errors, not all."""
        raised = [n for n, (kind, _) in enumerate(c.steps) if kind == "raised"]
        return len(raised) > 1 and any(kind == "got" for kind, _ in c.steps[raised[0]:raised[-1]])

    def _falsy(self, item: str) -> bool:
        return item in self.items and not self.items[item]

    # ---- per consumer: takes, handle() calls and task_done() calls, in order ----

    def protocol(self, c: Consumer) -> list:
        """Every mistake of one consumer, in order, as (checks, CheckFailure): the checks whose
        property it breaks. It goes on past a mistake, so that one mistake is not told as another.

        Leaves c.open holding what it took and never marked done, each with its
        state: "taken", "in handle" or "handled".
        """
        found = []
        calls = Counter()
        marked = []
        for n, (kind, item) in enumerate(c.steps):
            if kind == "got":
                c.open.append([item, "taken"])
            elif kind == "handle":
                if item == STOP:
                    found.append(({STOPS}, self._mistake(
                        c, n, "handle() was called with STOP",
                        "STOP only tells a consumer to return: mark it done and return, without passing it to "
                        "handle().")))
                    continue
                calls[item] += 1
                if calls[item] == 2:
                    found.append(({ONCE}, self._mistake(c, n, "handle() was called twice for one item",
                                                        "Call handle(item) once per item taken, even when it "
                                                        "raised.")))
                self._move(c, item, "taken", "in handle")
            elif kind in ("handled", "raised"):
                self._move(c, item, "in handle", "handled")
            elif kind == "done":
                finished = [e for e in c.open if e[0] == STOP or e[1] == "handled"]
                if finished:  # task_done() names no item: count it for the one handled last
                    c.open.remove(finished[-1])
                    marked.append(finished[-1][0])
                elif c.open:
                    found.append(self._done_unhandled(c, n, *c.open[0]))
                    marked.append(c.open.pop(0)[0])  # marked all the same: go on from there
                else:
                    what = "STOP" if marked and marked[-1] == STOP else "an item"
                    found.append(({MARKS}, self._mistake(
                        c, n, f"a consumer marked {what} done twice: task_done() was called more often than "
                              "q.get() returned an item", TWICE_HINT)))
            elif kind == "put" and item == STOP:
                found.append(({STOPS}, CheckFailure(
                    "a consumer put STOP back on the queue: nobody takes that extra STOP, so the producer's "
                    "second q.join() waits for its task_done() forever",
                    expected="each consumer takes its own STOP (the producer sends one per consumer), marks it "
                             "done and returns", got=self.story(c, upto=n), hint=STOP_BACK_HINT)))
        return found

    @staticmethod
    def _move(c, item, old, new):
        entry = next((e for e in c.open if e[0] == item and e[1] == old), None)
        if entry is not None:
            entry[1] = new

    def _done_unhandled(self, c, n, item, state):
        if state == "in handle" or ("handle", item) in c.steps[n:]:
            return {JOIN}, self._mistake(c, n, "a consumer marked an item done before handle() had finished with "
                                               "it, so q.join() can return while an item is still being handled",
                                         DONE_EARLY_HINT)
        checks = {FALSY, ONCE} if self._falsy(item) else {ONCE}
        hint = FALSY_HINT if self._falsy(item) else DONE_EARLY_HINT
        if n == len(c.steps) - 1 and c.exit_code is not None:  # and then it returned
            return checks, CheckFailure(f"a consumer stopped when it took {item}, which is an item, not STOP",
                                        expected=f"handle({item}), then the next item",
                                        got=f"{self.story(c)}; then it returned (exit code {c.exit_code})",
                                        hint=hint)
        return checks, self._mistake(c, n, f"a consumer marked {item} done without calling handle({item})", hint)

    def _mistake(self, c, n, summary, hint):
        return CheckFailure(summary, expected=CONTRACT, got=self.story(c, upto=n), hint=hint)

    # ---- how each consumer ended ----

    def ended_early(self, c: Consumer):
        """(checks, CheckFailure) when `c` ended without having taken a STOP; else None."""
        if c.exit_code is None or c.took_stop:
            return None
        held, state = c.open[-1] if c.open else (None, None)
        code = f"exit code {c.exit_code}"
        details = self.stderr_tail()
        expected = "a consumer that runs until it takes STOP"
        raised = self.last_raised(c)
        if raised is not None and c.exit_code != 0 and (held is None or held == raised):
            kind = self.burnt[raised]
            if kind == "Unprintable" and (held is None or self.survived(c)):
                return {SURVIVES}, CheckFailure(
                    f"a consumer died while writing the error of handle({raised}) to stderr: str() of that error "
                    "raised, and nothing caught it", kind="crash",
                    expected="the error written to stderr, and the next item handled",
                    got=f"{self.story(c)}; then it died ({code})", hint=UNPRINTABLE_HINT, details=details)
            return {SURVIVES}, CheckFailure(
                f"a consumer died when handle({raised}) raised {kind}: an error in handle() ended the consumer",
                kind="crash", expected="the error written to stderr, and the next item handled",
                got=f"{self.story(c)}; then it died ({code})" + (f" holding {held}" if held is not None else ""),
                hint=(KIND_HINT if kind != "Unprintable" else UNPRINTABLE_HINT) if self.survived(c) else DIED_HINT,
                details=details)
        if held is not None and state == "taken" and self._falsy(held):
            return {FALSY, ONCE}, CheckFailure(
                f"a consumer stopped when it took {held}, which is an item, not STOP",
                expected=f"handle({held}), then the next item", got=f"{self.story(c)}; then it returned ({code})",
                hint=FALSY_HINT, details=details)
        if c.exit_code != 0:
            holding = f" while it held {held}" if held is not None else ""
            return ALL, CheckFailure(f"a consumer died{holding} ({code})", kind="crash", expected=expected,
                                     got=f"{self.story(c)}; then it died ({code})",
                                     hint="Read the error below: it ended the consumer process.", details=details)
        last = next((kind for kind, _ in reversed(c.steps) if kind in ("got", "empty")), None)
        if last == "empty":
            how = ("its q.get() with a timeout gave up" if ("timed", None) in c.steps
                   else "its non-blocking q.get() found the queue empty")
            return {SLOW, ONCE}, CheckFailure(
                f"a consumer returned before it took a STOP: {how} while the producer was still busy",
                expected=expected, got=f"{self.story(c)}; then it returned ({code})", hint=BUSY_HINT,
                details=details)
        if held is not None:
            return {ONCE, FALSY} if self._falsy(held) else {ONCE}, CheckFailure(
                f"a consumer returned before it took a STOP, holding {held}", expected=expected,
                got=f"{self.story(c)}; then it returned ({code})", hint="Only STOP ends a consumer. " + FALSY_HINT,
                details=details)
        return {SLOW, ONCE}, CheckFailure(
            "a consumer returned before it took a STOP, while the producer was still busy", expected=expected,
            got=f"{self.story(c)}; then it returned ({code})",
            hint=BUSY_HINT + " Did it stop because q.empty() was True?", details=details)

    # ---- the verdict ----

    def verdict(self, student, call: str, case=None, check=None):
        """Raise a CheckFailure for the first thing that went wrong in this run that breaks the
        property of `check` (an ID; None: any). A crash, or a hang nothing else explains, breaks
        every property: nothing more can be told of that run."""
        for checks, failure in self._mistakes(student, call):
            if check is None or checks is ALL or check in checks:
                if case is not None and failure.failure.case is None:
                    failure.failure.case = str(case)
                raise failure

    def _finished(self, student, call):
        try:
            student.finished(self.outcome, call)
        except CheckFailure as failure:
            return failure
        return None

    def _mistakes(self, student, call):
        """(checks, CheckFailure) for each thing that went wrong, in the order they are told."""
        outcome = self.outcome
        if outcome.error is not None:
            failure = self._finished(student, call)
            if failure is not None:
                yield ALL, failure
                return
        for c in self.consumers:
            yield from self.protocol(c)
        if outcome.hang is None:
            for found in map(self.ended_early, self.consumers):
                if found is not None:
                    yield found
        explained = any(("put", STOP) in c.steps for c in self.consumers)  # told by protocol()
        for c in self.consumers:
            if any(item == STOP for item, _ in c.open):
                explained = True
                after = "returned" if c.exit_code is not None else "went on"
                yield {STOPS}, CheckFailure(
                    "a consumer took STOP but never marked it done, so the producer's second q.join() waits "
                    "forever", expected="q.task_done() for STOP too, then return",
                    got=f"{c.name} took STOP and {after} without calling q.task_done() for it", hint=STOP_HINT)
        if outcome.hang is not None:
            lost = self.lost()
            if lost is not None:
                yield lost
            elif not (explained and self.trace.batch_of("kit:joined")):
                failure = self._finished(student, call)
                if failure is not None:
                    yield ALL, failure
                    return
        running = self.still_running()
        if running:
            c = running[0]
            stops = c.steps.count(("got", STOP))
            yield {STOPS}, CheckFailure(
                "a consumer went on after STOP instead of returning: it was still running after every STOP "
                "was marked done", expected="each consumer returns right after its STOP",
                got=f"{len(running)} consumer(s) still running; {self.story(c)}"
                    + (f" (it took {stops} STOPs)" if stops > 1 else "") + ", then it waited for more",
                hint="After marking STOP done, return (or break out of the loop); do not take another item.")
        if self.result.get("producer_error") and outcome.hang is None:
            raise RuntimeError(f"the grader's producer failed: {self.result['producer_error']}")
        yield from self.join_waited()
        yield from self.each_item_once()

    def still_running(self) -> list:
        """The consumers still there once every STOP was marked done and the program was quiet again.

        The grader's own figure: the processes it saw alive, besides the producer's, when the probe
        marked its end ("kit:returned") after the second q.join() had returned. Which consumers
        they were, the program's own account only words."""
        end = self.trace.batch_of("kit:returned")
        if end is None or self.trace.batch_of("kit:stopped") is None:
            return []
        alive = end.alive - {a.pid for a in end.at("kit:returned")}
        if not alive:
            return []
        # Which ones, the program's own account may say; how many, the grader counted.
        named = [c for c in self.consumers if f"consumer-{c.number}" in self.result.get("still_running", ())]
        return [*named, *[c for c in self.consumers if c not in named]][:len(alive)]

    def lost(self):
        """The run hung: (checks, CheckFailure) naming an item handled but never marked done, or None."""
        for c in self.consumers:
            lost = [item for item, state in c.open if state == "handled"]
            if lost:
                raised = [item for item in lost if item in self.burnt]
                summary = (f"handle({raised[0]}) raised, and {raised[0]} was never marked done"
                           if raised else "an item was handled but never marked done")
                return {SURVIVES, MARKS} if raised else {MARKS}, CheckFailure(
                    summary + ", so q.join() waits forever", kind="hang",
                    expected="q.task_done() after handle(item), whether it returned or raised",
                    got=self.story(c), hint=DIED_HINT if raised else LOST_HINT, details=self.stderr_tail())
        return None

    def join_waited(self):
        """q.join() returned only after every handle() call had finished."""
        joined = next((i for i, b in enumerate(self.trace.batches) if b.at("kit:joined")), None)
        if joined is None:
            yield {JOIN, MARKS}, CheckFailure("the producer's first q.join() never returned",
                                              expected="q.join() returns once every item is marked done",
                                              got="it did not")
            return
        for item in self.items:
            calls = [a for a in self.trace.arrivals if a.stage == HANDLE + item]
            if not calls or self.when(calls[0]) >= joined:
                state = "was still running" if calls and self.when(calls[0]) == joined else "had not begun"
                yield {JOIN}, CheckFailure(f"q.join() returned while handle({item}) {state}",
                                           expected="q.join() returns once every handle() call has finished",
                                           got=f"handle({item}) {state} when q.join() returned", hint=DONE_EARLY_HINT)
                return

    def each_item_once(self):
        calls = Counter(a.stage[len(HANDLE):] for a in self.trace.arrivals if a.stage.startswith(HANDLE))
        missing = [i for i in self.items if calls[i] == 0]
        if missing:
            checks = {ONCE, SURVIVES, SLOW} | ({FALSY} if any(self._falsy(i) for i in missing) else set())
            falsy = [i for i in missing if self._falsy(i)]
            shown = falsy[0] if falsy else missing[0]
            yield checks, CheckFailure(f"{shown} was never handled",
                                       expected=f"handle() called once for each of {', '.join(self.items)}",
                                       got="never called for " + ", ".join(missing),
                                       hint=FALSY_HINT if falsy else None)
        again = [item for item, n in calls.items() if n > 1]
        if again:
            yield {ONCE}, CheckFailure(f"handle({again[0]}) was called {calls[again[0]]} times",
                                       expected="handle() called once for each item", got=f"{calls[again[0]]} calls",
                                       hint="Each item is taken by one consumer and handled once: never put it back.")
        if self.trace.batch_of("kit:stopped") is None:
            yield {STOPS}, CheckFailure("the producer's second q.join() never returned",
                                        expected="both q.join() calls return", got="the second one did not",
                                        hint=STOP_HINT)


def _say(kind: str, item) -> str:
    """One step of a consumer, the way the student wrote it."""
    if kind == "got":
        return "get() -> STOP" if item == STOP else f"get() -> {item}"
    return {"done": "task_done()", "empty": "get() raised Empty", "handled": f"handle({item})",
            "raised": f"handle({item}) raised", "put": f"put({'STOP' if item == STOP else item})"}.get(kind, "")
