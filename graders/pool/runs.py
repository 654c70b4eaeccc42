"""Running collect() under the grader and reading its trace: which tasks were in flight
together, in which calls, and what collect() returned or raised."""
from __future__ import annotations

import tempfile
from pathlib import Path

from graders.engine.checks import CheckFailure, hang_details
from graders.pool.hints import CHUNK_HINT, SERIAL_HINT, SIZE_HINT, TERMINATED_HINT, pool_pickling_hint, pool_words
from graders.pool.probe import RETURNED, TASK, result_of

COLLECT = "graders.pool.probe:collect"
LEAKS = "graders.pool.probe:leaks"
EACH = "graders.pool.probe:each"


class Release:
    """A `choose` policy: release one held task at a time, highest (or lowest) argument first.

    Markers of the probe itself ("kit:...") are always released. `finished`
    records the order in which the tasks were let go, which is the order in
    which they finish.
    """

    def __init__(self, highest_first: bool):
        self.highest_first = highest_first
        self.finished = []

    def __call__(self, held, trace):
        tasks = [a for a in held if a.stage.startswith(TASK)]
        if not tasks:
            return held
        pick = (max if self.highest_first else min)(tasks, key=lambda a: (argument(a), -a.seq))
        self.finished.append(argument(pick))
        return [a for a in held if not a.stage.startswith(TASK)] + [pick]


def argument(arrival) -> int:
    return int(arrival.stage.removeprefix(TASK))


def tasks_in(batch):
    return [a for a in batch.arrivals if a.stage.startswith(TASK)]


def most_together(batches):
    """(the most tasks in flight at one moment, the batch where that happened)."""
    best = max(batches, key=lambda b: len(tasks_in(b)), default=None)
    return (len(tasks_in(best)), best) if best else (0, None)


def batches_of_each_call(trace, calls: int) -> list[list]:
    """The batches of the probe `each`, split at the marker that follows each call."""
    split, n = [[] for _ in range(calls)], 0
    for batch in trace.batches:
        if n < calls:
            split[n].append(batch)
        if batch.at(f"{RETURNED}:{n}"):
            n += 1
    return split


def worker_pids(trace) -> set[int]:
    return {a.pid for a in trace.arrivals if a.stage.startswith(TASK)}


def timeline(batches) -> list[str]:
    """One line per step: the calls of func that were in flight together."""
    lines = []
    for batch in batches:
        running = [f"func({argument(a)})" for a in tasks_in(batch)]
        if running:
            lines.append(f"step {len(lines) + 1}: running {', '.join(running)}")
    return lines[:12] + ([f"... {len(lines) - 12} more steps"] if len(lines) > 12 else [])


def call_text(args, processes) -> str:
    return f"collect(func, {args}, processes={processes!r})"


def expected(args) -> list[str]:
    return [result_of(a) for a in args]


def plural(n, word, many=None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def run(student, probe, call, *, choose=None, **params):
    """Run a probe; (its value, the trace), or a CheckFailure that names a hang, crash or early exit."""
    with tempfile.TemporaryDirectory(prefix="kit-pool-") as folder:
        marks = Path(folder) / "terminated.txt"  # the probe notes here a pool terminated too early
        outcome = student.run(probe, choose=choose, marks=str(marks), **params)
        terminated_early = marks.exists()
    if outcome.hang is not None and terminated_early:
        raise CheckFailure(
            f"{call} never returned: the pool was terminated by leaving the with-block before the "
            "results were collected", kind="hang", case=call, expected="every result collected, then the pool "
            "closed", got="pool.terminate() ran while results were still awaited, then .get() waited forever",
            hint=TERMINATED_HINT, details=hang_details(outcome))
    try:
        value = student.finished(outcome, call, hang_hint="Is every task sent, and every result collected before "
                                 "the pool is shut down? A .get() that nothing will ever answer waits forever.")
    except CheckFailure as failure:
        failure.failure.hint = pool_words(failure.failure.hint)
        raise
    return value, outcome.trace


def run_collect(student, args, processes, *, choose=None, failures=None):
    return run(student, COLLECT, call_text(args, processes), choose=choose, args=args, processes=processes,
               failures=failures)


def returned(report, call, trace=None):
    """What collect() returned; a CheckFailure if it raised, at the student's line, and why when a
    timeout of theirs ran out (`trace`)."""
    if "raised" in report:
        raised = report["raised"]
        error = f"{raised['type']}: {raised['message']}".rstrip(": ")
        frames = raised.get("frames") or []
        where = f" at {Path(frames[-1]['file']).name}:{frames[-1]['line']}" if frames else ""
        hint = pool_pickling_hint(error)
        expired = trace.expired() if trace is not None else []
        if hint is None and expired:
            hint = (f"{expired[0].describe()} ran out before the task finished: a slow task is not a failed one, "
                    "and on a loaded machine any timeout can run out. Wait with .get() and no timeout.")
        raise CheckFailure(f"{call} raised {error}{where}", case=call, kind="crash", expected="a list of results",
                           got=error, hint=hint)
    return report["returned"]


def in_flight(batches, args, processes, case):
    """Exactly min(processes, len(args)) tasks were in flight at once: no fewer, no more."""
    together, best = most_together(batches)
    wanted = min(processes, len(args))
    if together < wanted:
        serial = together == 1
        # The processes the grader saw alive besides the one that called collect(): the pool's workers.
        workers = max((len(b.alive) - 1 for b in batches if tasks_in(b)), default=0)
        hint = SERIAL_HINT if serial else CHUNK_HINT if workers >= wanted else SIZE_HINT
        raise CheckFailure(
            f"only {plural(together, 'task')} {'was' if serial else 'were'} running at a time; expected {wanted}",
            case=case, expected=f"{wanted} tasks running at once, one per worker",
            got=f"at most {together} at once" + (f", with {workers} worker processes alive" if not serial else ""),
            hint=hint, details=timeline(batches))
    if together > processes:
        raise CheckFailure(
            f"{together} tasks were running at once with processes={processes}: the pool has more workers "
            "than asked for", case=case, expected=f"at most {processes} at once", got=f"{together} at once",
            hint=SIZE_HINT, details=timeline(batches))
