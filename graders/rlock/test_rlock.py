"""Hidden checks for `rlock`: two locks, two orders, and a re-entrant audit.

Every run goes through the lockstep scheduler, so the fatal interleaving comes
by itself: when the first worker leaves f1, it takes lock_B in f2 at the moment
the next worker takes lock_A in f1, and both are held there until each holds
its first lock. Two locks taken in opposite orders then deadlock on every run.
The probe traces the locks, so a deadlock is reported as its cycle: who holds
which lock and waits for which, at the student's lines; and every pause says
which locks its thread holds, so bump()'s locks are checked directly. Which
threads were alive is read by the grader itself (observe.py).
"""
import re

from hypothesis import given, strategies as st

from graders.engine.checks import CheckFailure, check
from graders.rlock import claims
from graders.rlock.observe import Observer

RUN = "graders.rlock.probe:run"
BAD_INPUT = "graders.rlock.probe:bad_input"

REENTRANT_HINT = (
    "A Lock is not re-entrant: a thread that holds it and takes it again waits for itself for ever, "
    "as audit() does inside f1(). An RLock may be taken again by the thread that holds it; it is free "
    "once released as many times as it was taken.")
ORDER_HINT = (
    "Two threads took the same two locks in opposite orders, so each holds the lock the other waits for. "
    "Take the locks in one order everywhere, or make lock_A and lock_B one RLock under two names.")
CHECK_FIRST_HINT = "Check workers and rounds at the top of run(), before starting any thread."
STUCK_HINT = "Is every lock released on every path? `with lock:` releases it even when an exception is raised."


def describe(workers, rounds) -> str:
    return f"{workers} worker{'s' * (workers != 1)}, {rounds} round{'s' * (rounds != 1)}"


def expected_counters(workers, rounds) -> dict:
    n = workers * rounds
    return {"f1": n, "f2": n, "audit": 2 * n}


def hang_hint(outcome) -> str:
    deadlocks = outcome.hang.deadlocks if outcome.hang else []
    if any("Semaphore is not re-entrant" in d for d in deadlocks):
        return ("A Semaphore is not re-entrant: it counts acquires, whoever makes them, so a thread that holds "
                "it and takes it again waits for itself for ever, as audit() does inside f1(). An RLock may be "
                "taken again by the thread that holds it.")
    if any("not re-entrant" in d for d in deadlocks):
        return REENTRANT_HINT
    return ORDER_HINT if deadlocks else STUCK_HINT


def shop(student, workers, rounds, observer=None):
    """run() under the scheduler: (what the probe returned, trace); a CheckFailure on a hang or crash.

    `observer` (an Observer) watches the threads at each release, and may pick who goes on.
    """
    outcome = student.run(RUN, workers=workers, rounds=rounds, choose=observer)
    case = describe(workers, rounds)
    if observer is not None and observer.order is not None:
        case += f", held threads let go one at a time in order {observer.order}"
    try:
        result = student.finished(outcome, f"run(workers={workers}, rounds={rounds})",
                                  case=case, hang_hint=hang_hint(outcome))
    except CheckFailure as failure:
        if outcome.hang is not None:
            # One deadlock per check is enough: later runs of it (hypothesis's shrinking) fail at
            # once with this one, as the engine does with a run past its deadline.
            student.budget.by_check[student.check] = failure
        raise
    counters = result["counters"]
    if not isinstance(counters, dict) or set(counters) != {"f1", "f2", "audit"} \
            or not all(type(v) is int for v in counters.values()):
        raise CheckFailure("run() must return the counters as a dict of three whole numbers",
                           case=describe(workers, rounds), expected=str(expected_counters(workers, rounds)),
                           got=str(counters)[:200], hint="Return the counters dict that bump() updates.")
    return result, outcome.trace


@check("workers that meet in f1() and f2() never deadlock")
def test_no_deadlock(student):
    shop(student, workers=2, rounds=1)


@check("audit() can take lock_A again while its own thread holds it", every_start_method=False)
def test_audit_reenters(student):
    shop(student, workers=1, rounds=1)


BOTH = ("lock_A", "lock_B")
ORDERS = (1, 2)  # seeds of the one-at-a-time release orders tried after the all-at-once one


@check("only one worker at a time is inside bump()", every_start_method=False)
def test_bump_is_exclusive(student):
    for order in (None, *ORDERS):
        result, trace = shop(student, workers=3, rounds=1, observer=Observer(order))
        case = describe(3, 1) + (f", held threads let go one at a time in order {order}" if order else "")
        together = trace.max_together("bump")
        bumps = [a for a in trace.arrivals if a.stage == "bump"]
        forged = claims.impossible(trace)
        if forged:  # the locks below are the program's word: here it cannot be true
            raise CheckFailure(
                f"the locks your program reported at its pauses cannot be true: {forged}", case=case,
                expected="each pause reporting the locks its thread holds", got=forged,
                hint="Leave the kit's pause() and its report of your locks as they are.")
        # Whether two workers also met inside bump() depends on how the threads ran between pauses;
        # a bump without the locks the others hold is there on every run: where the program locks
        # at all, that is the mistake to name, so the words are the same whichever way it ran.
        if together > 1 and not any(a.locks for a in bumps):
            raise _met_in_bump(trace, together, case)
        # Each bump pauses once: without the pause the grader could not see who is inside bump().
        counted = sum(result["counters"].values())
        if len(bumps) != counted:
            raise CheckFailure(f"the counters add up to {counted} bumps, but pause('bump') was called "
                               f"{len(bumps)} times", case=case, expected="one pause('bump') in every bump",
                               got=f"{len(bumps)} pauses for {counted} bumps",
                               hint="Keep bump(), audit() and the pause() calls as they are.")
        required = _required(bumps)
        unlocked = next((a for a in bumps if _missing(a, required)), None)
        if unlocked is not None:
            where = _called_from(trace, unlocked)
            missing = " and ".join(_missing(unlocked, required))
            raise CheckFailure(
                f"{_who(unlocked)} was inside bump() ({where}) holding {_held(unlocked)}"
                + (f", without {missing}" if unlocked.locks else ""),
                case=case, expected="every bump() run while its thread holds lock_A and lock_B",
                got=f"{_who(unlocked)} in bump() ({where}) holding {_held(unlocked)}",
                hint="f1() and f2() bump, and call audit(), while holding both locks: take the second lock "
                     "inside the with-block of the first, and call audit() there too. A lock let go before "
                     "the other is taken leaves a moment when another worker can get in.")
        if together > 1:  # every bump held locks of those names, and still they met: not the same locks
            raise _met_in_bump(trace, together, case)


def _met_in_bump(trace, together, case) -> CheckFailure:
    inside = next(b for b in trace.batches if len(b.at("bump")) == together).at("bump")
    return CheckFailure(
        f"{together} workers were inside bump() at the same time: both read the counter before either "
        "wrote it back",
        case=case, expected="one worker at a time inside bump()",
        got="inside bump() together: " + "; ".join(f"{_who(a)} holding {_held(a)}" for a in inside),
        hint="f1() and f2() must bump, and call audit(), while holding both lock_A and lock_B: "
             "then no two workers can be inside bump() together.")


def _required(bumps) -> dict[str, str] | None:
    """The locks every bump must hold: None for lock_A and lock_B by name; where the program's locks
    go by other names (made in run() and passed on), every lock some bump held, by key."""
    if any(set(held.names) & set(BOTH) for a in bumps for held in a.locks):
        return None
    return {held.key: held.name for a in bumps for held in a.locks} or None


def _missing(arrival, required) -> list[str]:
    if required is None:
        return [name for name in BOTH if name not in _names(arrival)]
    keys = {held.key for held in arrival.locks}
    return [name for key, name in required.items() if key not in keys]


def _names(arrival) -> set[str]:
    return {name for held in arrival.locks for name in held.names}


def _who(arrival) -> str:
    return re.sub(r"^(Thread-\d+) \(\w+\)$", r"\1", arrival.thread)


def _held(arrival) -> str:
    if not arrival.locks:
        return "no lock"
    parts = []
    for held in arrival.locks:
        name = " = ".join(n for n in held.names if n in BOTH) or held.name
        parts.append(f"{name} (taken at {held.site})" if held.site else name)
    return ("only " if len(arrival.locks) == 1 and len(arrival.locks[0].names) == 1 else "") + " and ".join(parts)


def _called_from(trace, arrival) -> str:
    """"f1()'s bump" or "audit()'s bump, after f1()": from the stages this thread paused at before."""
    before = [a.stage for a in trace.arrivals if a.tid == arrival.tid and a.pid == arrival.pid
              and a.seq < arrival.seq and a.stage in ("f1", "f2", "bump")]
    func = next((s for s in reversed(before) if s in ("f1", "f2")), None)
    if func is None:
        return "called outside f1() and f2()"
    return f"the bump of {func}()" if before[-1] == func else f"audit()'s bump, after {func}()"


@check("run() counts every f1, f2 and audit exactly", every_start_method=False)
@given(workers=st.integers(0, 3), rounds=st.integers(0, 2))
def test_counts_every_call(student, workers, rounds):
    result, _ = shop(student, workers, rounds)
    expected, got = expected_counters(workers, rounds), result["counters"]
    if got != expected:
        short = [name for name in ("f1", "f2", "audit") if got[name] < expected[name]][:1]
        raise CheckFailure(
            f"run() counted {got}, but {describe(workers, rounds)} should count {expected}"
            + (f": some calls of {short[0]}() skipped their work" if short else ": more than were made"),
            case=describe(workers, rounds), expected=str(expected), got=str(got),
            hint="Every call must do its work. An acquire(timeout=...) that gives up and skips the work "
                 "trades a deadlock for lost work: avoid the deadlock instead, with one lock order or one RLock.")


@check("run() starts every worker before it joins any", every_start_method=False)
def test_workers_run_together(student):
    observer = Observer()
    _, trace = shop(student, workers=2, rounds=1, observer=observer)
    most = observer.most_alive(trace)
    if most < 2:
        raise CheckFailure(
            "the workers ran one after another: run() waited for each worker to finish before starting the next",
            case=describe(2, 1), expected="both worker threads alive at once",
            got=f"at most {most} alive at once",
            hint="Start every thread in one loop, then join them all in a second loop. Running them one by "
                 "one hides the deadlock instead of fixing it.")


@check("run() returns only after every worker has finished", every_start_method=False)
def test_waits_for_every_worker(student):
    observer = Observer()
    _, trace = shop(student, workers=1, rounds=1, observer=observer)
    running = observer.left_running(trace)
    if running:
        raise CheckFailure(f"run() returned while {running} worker thread(s) were still running",
                           case=describe(1, 1), expected="every worker finished when run() returns",
                           got=f"{running} still running",
                           hint="join() every thread before returning the counters.")


@check("negative workers or rounds give ValueError", every_start_method=False)
def test_rejects_bad_arguments(student):
    cases = [{"workers": -1, "rounds": 1}, {"workers": 2, "rounds": -1}, {"workers": -3, "rounds": -2}]
    outcome = student.run(BAD_INPUT, cases=cases)
    report = student.finished(outcome, "run() with bad arguments")
    for case, got in zip(cases, report):
        label = f"run(workers={case['workers']}, rounds={case['rounds']})"
        raised = got["raised"]
        if raised is None or "ValueError" not in raised["types"]:
            what = f"{raised['type']}: {raised['message']}" if raised else f"returned {got['returned']}"
            raise CheckFailure(f"{label} should raise ValueError", case=label, expected="ValueError", got=what,
                               hint=CHECK_FIRST_HINT)
    if outcome.trace.arrivals:
        raise CheckFailure("run() started workers before it found the arguments were bad",
                           case="negative arguments", hint=CHECK_FIRST_HINT)
