"""Hidden checks for `rlock`: two locks, two orders, and a re-entrant audit.

Every run goes through the lockstep scheduler, so the fatal interleaving comes
by itself: when the first worker leaves f1, it takes lock_B in f2 at the moment
the next worker takes lock_A in f1, and both are held there until each holds
its first lock. Two locks taken in opposite orders then deadlock on every run.
The probe traces the locks, so a deadlock is reported as its cycle: who holds
which lock and waits for which, at the student's lines.
"""
from hypothesis import given, strategies as st

from graders.engine.checks import CheckFailure, check

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
    if any("not re-entrant" in d for d in deadlocks):
        return REENTRANT_HINT
    return ORDER_HINT if deadlocks else STUCK_HINT


def shop(student, workers, rounds):
    """run() under the scheduler: (what the probe saw, trace); a CheckFailure on a hang or crash."""
    outcome = student.run(RUN, workers=workers, rounds=rounds)
    try:
        result = student.finished(outcome, f"run(workers={workers}, rounds={rounds})",
                                  case=describe(workers, rounds), hang_hint=hang_hint(outcome))
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


@check("only one worker at a time is inside bump()", every_start_method=False)
def test_bump_is_exclusive(student):
    result, trace = shop(student, workers=3, rounds=1)
    together = trace.max_together("bump")
    if together > 1:
        raise CheckFailure(
            f"{together} workers were inside bump() at the same time: both read the counter before either "
            "wrote it back",
            case=describe(3, 1), expected="one worker at a time inside bump()",
            got=f"{together} workers inside bump() together",
            hint="Hold a lock around every call of bump(): f1() and f2() bump while holding both locks.")
    # Each bump pauses once: without the pause the grader could not see who is inside bump().
    bumps, counted = len([a for a in trace.arrivals if a.stage == "bump"]), sum(result["counters"].values())
    if bumps != counted:
        raise CheckFailure(f"the counters add up to {counted} bumps, but pause('bump') was called {bumps} times",
                           case=describe(3, 1), expected="one pause('bump') in every bump",
                           got=f"{bumps} pauses for {counted} bumps",
                           hint="Keep bump(), audit() and the pause() calls as they are.")


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
    result, _ = shop(student, workers=2, rounds=1)
    if result["most_alive"] < 2:
        raise CheckFailure(
            "the workers ran one after another: run() waited for each worker to finish before starting the next",
            case=describe(2, 1), expected="both worker threads alive at once",
            got=f"at most {result['most_alive']} alive at once",
            hint="Start every thread in one loop, then join them all in a second loop. Running them one by "
                 "one hides the deadlock instead of fixing it.")


@check("run() returns only after every worker has finished", every_start_method=False)
def test_waits_for_every_worker(student):
    result, _ = shop(student, workers=1, rounds=1)
    if result["left_running"]:
        raise CheckFailure(f"run() returned while {result['left_running']} worker thread(s) were still running",
                           case=describe(1, 1), expected="every worker finished when run() returns",
                           got=f"{result['left_running']} still running",
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
