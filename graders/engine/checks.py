"""What a grader author writes with: the `check` decorator, `CheckFailure`,
and `Student`, which runs a probe of the student's code in a child process.

    @check("only one buyer is inside buy() at a time")
    def test_buy_is_exclusive(student):
        outcome = student.run("graders.lock.probe:sell", count=3, buyers=3)
        ...
        raise CheckFailure("3 buyers were inside buy() at the same time", ...)
"""
from __future__ import annotations

import re
import signal
from collections import Counter
from dataclasses import dataclass, field

from graders.sandbox import resources
from graders.engine import stacks
from graders.engine.manifest import Exercise
from graders.engine.results import NOT_RUN, Failure
from graders.engine.run import Outcome, run_probe


def check(title: str, *, every_start_method: bool = True, start_method: str | None = None,
          hidden: bool = False, same_run: str | None = None, cost: int | None = None):
    """Name a check in plain words.

    A check is public unless `hidden=True`: hidden checks count in the kit's
    own grading and the Gradescope autograder, but the student handout leaves
    their code out entirely (`nox -s handout`).

    By default a check runs under every start method being graded; with
    `every_start_method=False` under one of them (forkserver when graded), and
    with `start_method` always under that one, for checks whose evidence only
    that method keeps (under fork, a student's children outlive a bad early
    return instead of crashing on the shared objects it dropped).

    Checks that judge one run from different sides name it with the same
    `same_run`: the grading process that runs one of them runs them all under
    that start method, so the run is made once. `cost` says about how many
    plain runs a check's work is worth, when that is not one per example (a
    run of many processes, say): the grading processes split the work by it
    (engine/balance.py).
    """
    def mark(func):
        func.kit_title = title
        func.kit_every_start_method = every_start_method
        func.kit_start_method = start_method
        func.kit_hidden = hidden
        func.kit_same_run = same_run
        func.kit_cost = cost
        return func
    return mark


class CheckFailure(Exception):
    """A check's verdict: what was wrong, expected versus got, the case, a hint."""

    def __init__(self, summary: str, *, expected=None, got=None, case=None, hint=None,
                 details=(), kind="wrong"):
        super().__init__(summary)
        self.failure = Failure(kind=kind, summary=summary, expected=_text(expected), got=_text(got),
                               case=_text(case), hint=hint, details=list(details))


def _text(value):
    return None if value is None else str(value)


PICKLING_HINT = ("Everything sent to another process is pickled: a Pool's tasks and results under every start "
                 "method, a Process's target and args under spawn and forkserver. Functions must be defined at "
                 "the top level of the module, not inside another function or as a lambda; pass data as arguments.")


def pickling_hint(*texts: str | None) -> str | None:
    """PICKLING_HINT if an error ("TYPE: message") or the program's stderr says something could not be
    pickled; else None. An object that can never be pickled (a threading.Lock, say) gets a line of its own."""
    texts = [t for t in texts if t]
    if not any(stacks.shows_pickling_error(t) for t in texts):
        return None
    kind = next((k for k in map(stacks.unpicklable_type, texts) if k), None)
    if kind is None:
        return PICKLING_HINT
    return (PICKLING_HINT + f" A {kind!r} object cannot be pickled at all: make it in the process that uses it, "
            "or share one of multiprocessing's own (multiprocessing.Lock, multiprocessing.Queue) by passing it "
            "in the args of each Process.")


MAX_TIMEOUTS = 3  # hangs per exercise and grading process before its remaining runs are skipped
QUICK_MAX_TIMEOUTS = 1  # the same in quick mode, the inner loop: one hang told in full is enough to act on
BUSY_HINT = ("The program was still running at the deadline: look for a loop that never ends, "
             "or a wait that never gets its answer, at the lines above.")


@dataclass
class TimeBudget:
    """Keeps a submission that hangs from costing a hang per run.

    Within one check, the first run that hangs (at its deadline, at the memory
    cap of the whole process tree, or stuck: everything blocked for STALL
    seconds) ends the check: later runs (hypothesis's shrinking, say) fail at
    once with that same failure. Across an exercise, after `limit` such runs
    (MAX_TIMEOUTS, or QUICK_MAX_TIMEOUTS in quick mode) the remaining runs are
    not started. Each grading process has its budget, and a fixed part of the
    runs in a fixed order (grading.PROCESSES), so the verdict is the same on every
    grade.
    """

    limit: int = MAX_TIMEOUTS
    timeouts: int = 0
    by_check: dict = field(default_factory=dict)
    charged: object = None  # the last hung run counted, so that finished() does not count it again
    # Where each counted hang stands in the process's usual order of runs (None: the order they ran in).
    # A watch runs the checks that failed last first; counting by place keeps every verdict as it was.
    hung_at: list = field(default_factory=list)

    def spent(self, position: int | None = None) -> bool:
        """Whether a run at `position` in the usual order is not started: `limit` hangs came before it."""
        if position is None:
            return self.timeouts >= self.limit
        return sum(1 for at in self.hung_at if at is None or at < position) >= self.limit

    def charge(self, outcome, position: int | None) -> None:
        if self.charged is not outcome:
            self.timeouts += 1
            self.charged = outcome
            self.hung_at.append(position)
        elif position is not None and self.hung_at[-1] is not None and position < self.hung_at[-1]:
            self.hung_at[-1] = position  # one shared run, judged by several checks: it hung at the first


def budget_spent(limit: int) -> CheckFailure:
    """What a run not started for the time budget fails with."""
    times = "once" if limit == 1 else f"{limit} times"
    return CheckFailure(f"{NOT_RUN}the program already hung (or ran out of memory) {times} in this exercise",
                        kind="hang", hint="Fix the hang reported above first.")


@dataclass
class Student:
    """The submission under test, bound to one exercise and one start method."""

    exercise: Exercise
    submission: str
    lib: str
    start_method: str
    budget: TimeBudget = field(default_factory=TimeBudget)
    check: str = ""
    position: int | None = None  # this check's place in the usual order of runs (TimeBudget.hung_at)

    def run(self, probe: str, *, choose=None, **params) -> Outcome:
        earlier = self.budget.by_check.get(self.check)
        if earlier is not None:
            raise earlier
        if self.budget.spent(self.position):
            raise budget_spent(self.budget.limit)
        outcome = run_probe(probe=probe, module=self.exercise.module, submission=self.submission,
                            lib=self.lib, params=params, start_method=self.start_method,
                            deadline=self.exercise.deadline, choose=choose)
        if outcome.hang is not None:
            # Counted here, whether or not the check goes on to call finished() (one that tells
            # its hangs in its own words may not); finished() puts its own failure in its place.
            self._charge(outcome, _ending(outcome, "the program", None, None))
        return outcome

    def _charge(self, outcome: Outcome, failure: CheckFailure) -> None:
        """A hang costs a deadline, or STALL seconds when stuck: either way once per check
        (hypothesis would shrink it run after run), and a few per exercise."""
        self.budget.charge(outcome, self.position)
        self.budget.by_check[self.check] = failure

    def finished(self, outcome: Outcome, call: str, *, hang_hint=None, case=None, expect_crashes=False):
        """The probe's value; a CheckFailure if the student's code hung, raised or died.

        A process or thread of the program that died of an exception is told first: what the
        run did next (a hang, an error, a missing result) follows from it, and is told after.
        With `expect_crashes`, for a call given bad input on purpose, processes that die of it
        are part of what the check judges (should the call have refused the input?), not a
        crash told first; they stay in `outcome.crashes`.
        """
        failure = _ending(outcome, call, hang_hint, case)
        if outcome.crashes and not expect_crashes:
            failure = crash_failure(outcome, call, case, then=failure)
        if failure is None:
            return outcome.value
        if outcome.hang is not None:
            self._charge(outcome, failure)
        raise failure


def _ending(outcome: Outcome, call: str, hang_hint, case) -> CheckFailure | None:
    """How the run ended, when it did not return a value: a hang, an exception, an exit."""
    pickled = pickling_hint(outcome.stderr)  # a child died of it: the likeliest cause of what follows
    if outcome.hang is not None:
        busy = outcome.hang.reason == "deadline"
        hint = BUSY_HINT if busy else MEMORY_HINT if outcome.hang.reason == "memory" else hang_hint
        if outcome.hang.reason != "memory" and not outcome.hang.deadlocks:
            hint = pickled or hint
        if outcome.hang.reason == "stuck" and outcome.hang.stopped:
            hint = "Never stop the program's own processes: a stopped process holds what it holds for ever."
        return CheckFailure(hang_summary(outcome, call), kind="hang", case=case,
                            hint=hint, details=hang_details(outcome))
    if outcome.error is not None:
        error = outcome.error
        frames = [f"{f['file'].rsplit('/', 1)[-1]}:{f['line']} in {f['func']}" for f in error["frames"]]
        return CheckFailure(f"{call} raised {error['type']}: {error['message']}", kind="crash",
                            case=case, hint=pickling_hint(f"{error['type']}: {error['message']}") or pickled,
                            details=(["raised at " + " <- ".join(reversed(frames))] if frames else [])
                            + _stderr_tail(outcome))
    if outcome.exit_code is not None:
        if outcome.exit_code < 0:
            return CheckFailure(f"the program's process was stopped before {call} returned: "
                                + _signal_reason(-outcome.exit_code), kind="crash", case=case,
                                hint=pickled, details=_stderr_tail(outcome))
        return CheckFailure(
            f"the program ended its own process before {call} returned (exit code {outcome.exit_code})",
            kind="crash", case=case,
            hint="Do not call sys.exit() or os._exit() in the code the grader calls.",
            details=_stderr_tail(outcome))
    return None


CRASH_HINT = ("That exception ended the {kind}: fix it first. What else went wrong in this run (a missing "
              "pause, a wrong count, a hang) can follow from a {kind} that stopped half-way.")
CRASH_INSIDE_HINT = ("It was raised inside a call your code made at {site}, not by that line itself: catch what "
                     "that call may raise where the {kind} must go on, or keep it from raising.")
NONE_HINT = ("Under spawn and forkserver every process imports your module afresh and runs none of your main "
             "code: a global that the main code set (a lock still None at module level, say) is not set in the "
             "other processes. Make it in the main code and pass it to each process in its args.")
RELEASE_HINT = ("A lock was released by a thread that did not hold it (or released once too often). Release "
                "only what the same thread acquired: `with lock:` pairs each acquire with its release.")
EMPTY_FILE_HINT = ("The file held no JSON at all when it was read: most likely it was empty, opened for writing "
                   "(\"w\" empties a file at once) and not written yet, by this process or another. Read what "
                   "you need before opening a file for writing, and keep readers out while a writer is at work.")
_RELEASE = ("release unlocked lock", "cannot release un-acquired lock", "semaphore or lock released too many times")


def crash_failure(outcome: Outcome, call: str, case, then: CheckFailure | None) -> CheckFailure:
    """The first exception that ended a process or thread of the program, told first; `then`, what
    the run did after (a hang, an error of the call), in a line after it."""
    first, *others = outcome.crashes
    at = f" at {first.site}" if first.site else ""
    summary = f"during {call}, a {first.kind} of your program died of an exception{at}: {first.error}"
    who = f"a thread of process {first.pid}" if first.kind == "thread" else f"process {first.pid}"
    details = [f"{first.name}, {who}, died there; its traceback, your lines:"]
    details += ["    " + line for line in first.lines] or ["    (none: it was raised in the library code it ran)"]
    same = [c for c in others if (c.type, c.message, c.site) == (first.type, first.message, first.site)]
    if same:
        details.append(f"{_more(len(same), first.kind)} died of the same exception at the same line")
    different = [c for c in others if c not in same]
    for other in different[:MORE_CRASHES]:
        where = f" at {other.site}" if other.site else ""
        of = f"a thread of process {other.pid}" if other.kind == "thread" else f"process {other.pid}"
        details.append(f"{other.name} ({of}) also died{where}: {other.error}")
    if len(different) > MORE_CRASHES:
        details.append(f"and {len(different) - MORE_CRASHES} more died of other exceptions")
    if then is not None:
        then = then.failure
        details.append(f"what followed: {then.summary}")
        told = then.details[:then.details.index(STDERR)] if STDERR in then.details else then.details
        details += [line for line in told if not line.startswith("raised at ")]
    return CheckFailure(summary, kind="crash", case=case, hint=_crash_hint(first, outcome), details=details)


MORE_CRASHES = 3  # other crashes of a run told, one line each: the first is what to fix


def _crash_hint(crash, outcome: Outcome) -> str:
    hint = pickling_hint(crash.error)
    if hint:
        return hint
    if "NoneType" in crash.message and outcome.start_method in ("spawn", "forkserver"):
        return NONE_HINT
    if any(words in crash.message for words in _RELEASE):
        return RELEASE_HINT
    if crash.type == "JSONDecodeError" and crash.message.endswith("(char 0)"):
        return EMPTY_FILE_HINT
    if crash.site and not crash.own:
        return CRASH_INSIDE_HINT.format(site=crash.site, kind=crash.kind)
    return CRASH_HINT.format(kind=crash.kind)


def _more(n: int, kind: str) -> str:
    return f"{n} more {kind}" if n == 1 else f"{n} more {kind}es" if kind == "process" else f"{n} more {kind}s"


MEMORY_HINT = "Look for a list, string or buffer that keeps growing, or for processes started in a loop."


def _signal_reason(number: int) -> str:
    if number == signal.SIGXFSZ:
        return f"it wrote more than {resources.describe_bytes(resources.MAX_FILE_SIZE)} to its output or to one file"
    if number == signal.SIGXCPU:
        return "it used too much CPU time"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"it was killed by {name} (did it signal its own processes, or run out of a limit?)"


def hang_summary(outcome: Outcome, call: str) -> str:
    hang = outcome.hang
    if hang.reason == "memory":
        return (f"{call} was stopped after {hang.waited:g} s: its processes used more than "
                f"{resources.describe_bytes(resources.MAX_TREE_MEMORY)} of memory together")
    if hang.deadlocks:
        return f"{call} never finished, because of a deadlock: {hang.deadlocks[0]}"
    if hang.reason == "stuck" and hang.stopped:
        who = "a process" if len(hang.stopped) == 1 else f"{len(hang.stopped)} processes"
        return (f"{call} never finished: {who} of the program stopped (a SIGSTOP or SIGTSTP) and nothing "
                "would ever continue it")
    if hang.reason == "stuck":
        return (f"{call} never finished: after {hang.waited:g} s every thread of the program was waiting "
                "for something that no other thread would ever do (a deadlock or a lost wake-up)")
    return f"{call} did not finish within its deadline of {round(hang.waited)} s"


def hang_details(outcome: Outcome) -> list[str]:
    """The held threads, the lock waits, and the line each stuck thread of the student's code is on.

    A process with one stuck thread is "process P"; one with several names each "Thread-2 of
    process P" when the lock sentences say which thread waits at that line, else "a thread of
    process P", so that three threads of one process never read as one process three times.
    """
    hang = outcome.hang
    lines = list(hang.held) + [f"another deadlock: {d}" for d in hang.deadlocks[1:]] + hang.lock_waits
    names = _waiting_threads(hang.deadlocks + hang.lock_waits)
    sites = Counter(_site(frames[0]) for threads in hang.stacks.values() for frames in threads)
    for pid, threads in sorted(hang.stacks.items()):
        for frames in threads:
            if len(threads) == 1:
                who = f"process {pid}"
            else:
                name = names.get(_site(frames[0])) if sites[_site(frames[0])] == 1 else None
                who = f"{name} of process {pid}" if name else f"a thread of process {pid}"
            lines.append(f"{who} is stuck at {frames[0]}")
            lines.extend(f"    called from {f}" for f in frames[1:3])
    return lines + _stderr_tail(outcome)


# "Thread-1 holds lock_A (shop.py:40) and waits for lock_B (shop.py:42)", "Thread-2 waits for lock_A
# (shop.py:40), which ...", "... and waits for it again (shop.py:35): ...": who waits, and where.
_WAITER = re.compile(r"^(?P<who>.+?) (?:holds .+? and )?waits for (?:it again(?: as \S+)?|[^,;()]+?) "
                     r"\((?P<site>[^()\s]+:\d+)\)")


def _waiting_threads(sentences: list[str]) -> dict[str, str]:
    """{"shop.py:42": "Thread-2"}: the one thread the lock sentences say waits at each line.

    Lines where several threads wait, and threads named with their process (several processes
    were involved), are left out: the stacks name processes by pid, the sentences by name."""
    found: dict[str, set] = {}
    for sentence in sentences:
        for clause in sentence.split("; "):
            match = _WAITER.match(clause)
            if match and " of " not in match["who"]:
                found.setdefault(match["site"], set()).add(match["who"])
    return {site: next(iter(who)) for site, who in found.items() if len(who) == 1}


def _site(frame: str) -> str:
    """"shop.py:42" of a frame told as "shop.py:42 in f1: with lock_B:"."""
    return frame.split(" in ", 1)[0]


STDERR = "the program wrote to stderr:"


def _stderr_tail(outcome: Outcome, lines: int = 12) -> list[str]:
    text = outcome.stderr.strip()
    if not text:
        return []
    tail = text.splitlines()[-lines:]
    return [STDERR] + ["    " + line for line in tail]
