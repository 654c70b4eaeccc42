"""Hidden checks for `lock`: the ticket sale.

Every run goes through the lockstep scheduler: each buyer is held in
pause("search") and pause("buy") until the whole program is blocked, so the
buyers that can be inside a stage together always are. A racy sale oversells
on every run; a correct one never does.
"""
import json
import tempfile
from pathlib import Path

from hypothesis import given, strategies as st

from graders.sandbox import untrusted
from graders.engine.checks import CheckFailure, check
from graders.engine.results import NOT_RUN
from graders.lock.observe import WhoBought, told_buyers

SELL = "graders.lock.probe:sell"
BAD_INPUT = "graders.lock.probe:bad_input"
RETURNED = "kit:returned"

ONE_LOCK = "Make one lock in sell(), pass it to every buyer, and hold it around the whole call of buy()."
SOLD_OUT_HANG_HINT = ("A buyer that finds the tickets sold out must release the lock too: `with lock:` "
                      "releases it on every path, an early return included.")


def describe(tickets, buyers) -> str:
    return f"{tickets} ticket{'s' * (tickets != 1)}, {buyers} buyer{'s' * (buyers != 1)}"


def make_db(count, text=None) -> Path:
    path = Path(tempfile.mkdtemp(prefix="kit-db-")) / "tickets.json"
    path.write_text(text if text is not None else json.dumps({"count": count}))
    return path


def sell(student, tickets, buyers, before_contract=None, db=None, choose=None, tell_buyers=False):
    """Run sell() on a fresh ticket file; (result, tickets left, trace).

    `before_contract(trace)` looks at the trace before the stage contract is
    checked, for mistakes that also break the contract.
    """
    db = db or make_db(tickets)
    outcome = student.run(SELL, db_path=str(db), buyers=buyers, choose=choose, tell_buyers=tell_buyers)
    case = describe(tickets, buyers)
    result = student.finished(outcome, f"sell(db, {buyers})", case=case,
                              hang_hint="Is the lock released on every path? " + SOLD_OUT_HANG_HINT)
    if before_contract:
        before_contract(outcome.trace)
    follows_contract(outcome.trace, buyers)
    return result, tickets_left(db, case), outcome.trace


def tickets_left(db: Path, case: str):
    """The count the ticket file holds after a sale. The student's processes could have replaced
    the file with anything: it is read without following a link, and only if it is a plain file."""
    text = untrusted.read_text(db, 1 << 16)
    if text is None:
        raise CheckFailure("after the sale the ticket file was no longer a plain file (a link, a folder or a "
                           "pipe took its place)", case=case, expected="the ticket file, with the new count in it",
                           hint="Write the new count into the ticket file with write_count(); do not replace it.")
    try:
        data = untrusted.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise CheckFailure("after the sale the ticket file did not hold {\"count\": N}", case=case,
                           expected='{"count": N}', got=text[:200],
                           hint="Write the new count with write_count(), one buyer at a time.")
    return data.get("count")


def follows_contract(trace, buyers):
    pids = trace.pids_at("search")
    if len(pids) != buyers:
        raise CheckFailure(f"{len(pids)} buyer process(es) called pause('search'), expected {buyers}",
                           expected=f"{buyers} buyer processes, each calling pause('search') then pause('buy')",
                           got=f"{len(pids)} processes called pause('search')",
                           hint="Start one multiprocessing.Process per buyer and keep the pause() calls.")
    for pid in pids:
        stages = [s for s in trace.stages_of(pid) if not s.startswith("kit:")]
        if stages != ["search", "buy"]:
            raise CheckFailure("a buyer did not call pause('search') and then pause('buy'), once each",
                               expected="['search', 'buy']", got=str(stages),
                               hint="Keep search() and buy() as they are; add the lock around them.")


@check("every buyer can search at the same time")
def test_search_is_concurrent(student):
    _, _, trace = sell(student, tickets=2, buyers=3)
    buyers = trace.pids_at("search")
    running = trace.max_alive(buyers)
    if running < 3:
        raise CheckFailure(
            "the buyers ran one after another: sell() waited for each buyer to finish before starting the next",
            expected="all 3 buyer processes running at once", got=f"at most {running} running at once",
            hint="Start every buyer in one loop, then join them all in a second loop.")
    together = trace.max_together("search")
    if together < 3:
        holder = next((a for a in trace.arrivals if a.stage == "search" and a.locks), None)
        held = (f" (a buyer searched holding {holder.locks[0].name}, taken at {holder.locks[0].site})"
                if holder is not None else "")
        raise CheckFailure(
            f"only {together} of 3 buyers could search at the same time: the lock covers searching too{held}",
            expected="all 3 buyers inside search() together", got=f"at most {together} together",
            hint="Hold the lock around buy() only. Searching just reads, and must stay concurrent.")


@check("only one buyer is inside buy() at a time")
def test_buy_is_exclusive(student):
    _, _, trace = sell(student, tickets=3, buyers=3)
    together = trace.max_together("buy")
    expired = trace.expired(trace.pids_at("search"))
    if together > 1 and expired:
        raise CheckFailure(
            f"{together} buyers were inside buy() at the same time: {expired[0].describe()} ran out, "
            "and the buyer went on to buy(), so it buys without the lock",
            expected="one buyer at a time inside buy()", got=f"{together} buyers inside buy() together",
            hint="acquire(timeout=...) returns False when its time runs out, and on a slow machine it does. "
                 "A buyer who did not get the lock must not buy: hold it with `with lock:`, or try again "
                 "until acquire() returns True.",
            details=trace.timeline(["search", "buy"], role="buyer"))
    if together > 1:
        inside = next(b for b in trace.batches if len(b.at("buy")) == together).at("buy")
        held, hint = what_was_held(trace, inside)
        raise CheckFailure(
            f"{together} buyers were inside buy() at the same time: {held}",
            expected="one buyer at a time inside buy()", got=f"{together} buyers inside buy() together",
            hint=hint, details=trace.timeline(["search", "buy"], role="buyer"))


def what_was_held(trace, inside) -> tuple[str, str]:
    """What the buyers inside buy() together held, as each pause told it; and the hint it gives."""
    number = {pid: n for n, pid in enumerate(dict.fromkeys(a.pid for a in trace.arrivals), 1)}
    buyers = sorted(inside, key=lambda a: number[a.pid])
    names = lambda group: _and([f"buyer {number[a.pid]}" for a in group])
    bare = [a for a in buyers if not a.locks]
    keys = [frozenset(h.key for h in a.locks) for a in buyers]
    shared = frozenset.intersection(*keys) if keys else frozenset()
    if bare:
        said = (f"{names(bare)} read the count in buy() holding no lock"
                + (f", while {names([a for a in buyers if a.locks])} held one" if len(bare) < len(buyers) else ""))
        return said, ("buy() reads the count first, then pauses, then writes: a buyer must hold the lock before "
                      "that read, or two buyers read the same count. If your lock is taken only around the write, "
                      "or a file lock was let go (a POSIX lockf or fcntl lock is dropped when the process closes "
                      "any descriptor of that file, as read_count() does), no buyer holds it here. " + ONE_LOCK)
    if shared:
        lock = next(h for h in buyers[0].locks if h.key in shared)
        if lock.kind in ("Semaphore", "BoundedSemaphore"):
            value = f"{lock.kind}({lock.value})" if lock.value is not None else f"a {lock.kind}"
            return (f"they all held {lock.name} (taken at {lock.site}), a {value}",
                    f"a {value} lets {lock.value or 'several'} buyers in at once: it counts places, and each "
                    "acquire takes one. A Lock (or a Semaphore(1)) lets one buyer in at a time.")
        return (f"they all held {lock.name} (taken at {lock.site}), and still met inside buy()",
                "One shared lock held around buy() lets one buyer in at a time: look at how it is taken.")
    told = {(a.locks[0].name, a.locks[0].site) for a in buyers}
    if len(told) == 1:
        (name, site), = told
        own = f"{len(buyers)} different locks, each named {name} and taken at {site}"
    else:
        own = "; ".join(f"buyer {number[a.pid]} held {a.locks[0].name} (taken at {a.locks[0].site})"
                        for a in buyers)
    return (f"each buyer held a lock of its own: {own}",
            "A lock made by each buyer, or made at module level (under spawn and forkserver each process "
            "imports the module again and makes its own), keeps no other buyer out. " + ONE_LOCK)


def _and(items) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@check("every ticket is sold once, and sell() says who got one", every_start_method=False)
@given(tickets=st.integers(0, 4), buyers=st.integers(0, 5))
def test_sells_every_ticket_once(student, tickets, buyers):
    result, left, _ = sell(student, tickets, buyers)
    case = describe(tickets, buyers)
    if not isinstance(result, list) or len(result) != buyers or not all(isinstance(r, bool) for r in result):
        raise CheckFailure("sell() must return one True/False per buyer", case=case,
                           expected=f"a list of {buyers} bools", got=str(result)[:200])
    sold, should = sum(result), min(tickets, buyers)
    if sold > tickets:
        raise CheckFailure(f"{sold} tickets were sold but only {tickets} existed: the sale oversold",
                           case=case, expected=f"{should} buyers get a ticket", got=f"{sold} did",
                           hint="Two buyers read the same count before either wrote it back. "
                                "Decide and write inside the lock, with the count read inside the lock.")
    if left != tickets - sold:
        raise CheckFailure(f"{sold} ticket(s) were sold, but the ticket file says {left} left of {tickets}",
                           case=case, expected=f"{tickets - sold} left", got=f"{left} left",
                           hint="Every sale must write the new count, one buyer at a time.")
    if sold != should:
        raise CheckFailure(f"only {sold} buyer(s) got a ticket, though {tickets} ticket(s) were for sale",
                           case=case, expected=f"{should} buyers get a ticket", got=f"{sold} did")


@check("sell() returns only after every buyer has finished", start_method="fork")
def test_waits_for_every_buyer(student):
    def returned_alone(trace):
        returned = trace.batch_of(RETURNED)
        running = len(returned.alive & set(trace.pids_at("search"))) if returned else 0
        if running:
            raise CheckFailure(f"sell() returned while {running} buyer process(es) were still running",
                               expected="every buyer finished when sell() returns",
                               got=f"{running} still running",
                               hint="join() every buyer before returning their results.")

    sell(student, tickets=1, buyers=2, before_contract=returned_alone)


@check("the lock is released when the tickets are sold out", every_start_method=False, hidden=True)
def test_releases_lock_when_sold_out(student):
    try:
        result, _, _ = sell(student, tickets=1, buyers=3)
    except CheckFailure as failure:
        kept = any("never released" in line for line in failure.failure.details)  # a lock whose holder ended
        if failure.failure.kind == "hang" and kept and not failure.failure.summary.startswith(NOT_RUN):
            failure.failure.summary = ("a buyer that found the tickets sold out kept the lock, so the buyers after "
                                       "it waited for ever: " + failure.failure.summary)
            failure.failure.hint = SOLD_OUT_HANG_HINT
        raise
    if not isinstance(result, list) or sum(r is True for r in result) != 1:
        got = sum(r is True for r in result) if isinstance(result, list) else 0
        raise CheckFailure(
            "the buyers who came after the last ticket could not be checked: with 1 ticket and 3 buyers, "
            f"{got} buyers got a ticket, so none of them found the tickets sold out",
            case=describe(1, 3), expected="1 buyer gets the ticket, 2 find it sold out and release the lock",
            got=f"{got} got a ticket",
            hint="This check looks at the buyers that come after the last ticket is gone: each must release the "
                 "lock. Fix 'only one buyer is inside buy() at a time' first.")


WHO_HINT = ("result[i] must be what buyer i's own buy() returned: each buyer stores its own outcome at its "
            "own index (outcomes[i] = buy(...)), not a list made up from how many were sold.")


@check("sell() says which buyer got the ticket", every_start_method=False)
def test_says_who_got_a_ticket(student):
    said = {}
    for first in ("lowest", "highest"):
        db = make_db(1)
        observer = WhoBought(db, first)
        result, _, trace = sell(student, tickets=1, buyers=3, db=db, choose=observer, tell_buyers=True)
        if not isinstance(result, list) or len(result) != 3 or sum(r is True for r in result) != 1 \
                or len(observer.bought) != 1:
            return  # a sale gone wrong: the other checks tell it
        index = told_buyers(trace).get(observer.bought[0])
        if index is not None and result[index] is not True:
            raise CheckFailure(
                f"buyer {index} bought the ticket, but sell() said buyer {result.index(True)} got it",
                case=describe(1, 3) + f", the grader let buyer {index} (the process started with i={index}) "
                     "reach the ticket first",
                expected=f"result[{index}] True", got=str(result),
                hint=WHO_HINT + " Buyers may start in any order, and a process's id says nothing about its i.")
        started = sorted(trace.pids_at("search"))
        rank = started.index(observer.bought[0]) if observer.bought[0] in started else None
        said[first] = (result.index(True), rank, result, index)
    (low, low_rank, low_result, low_index), (high, high_rank, _, high_index) = said["lowest"], said["highest"]
    # Where both buyers said who they are, the answers were right. Otherwise the pids' order is all the
    # grader has: the answer must at least change when a different process bought.
    if (low_index is None or high_index is None) and low == high and low_rank != high_rank:
        nth = lambda rank: ("1st", "2nd", "3rd")[rank]
        raise CheckFailure(
            f"sell() said buyer {low} got the ticket both times, but a different buyer process bought it each "
            f"time: the {nth(low_rank)} buyer started in one sale, the {nth(high_rank)} in the other",
            case=describe(1, 3) + ", sold twice: the grader let a different buyer reach the ticket first each time",
            expected="result[i] True for the buyer i that bought: a different i in each sale",
            got=f"{low_result} both times", hint=WHO_HINT)


def bad_input(student, cases):
    """Run sell() on each case: each must raise its error, leave its file alone, start no buyer."""
    before = {c["db_path"]: _read(c["db_path"]) for c in cases}
    outcome = student.run(BAD_INPUT, cases=cases)
    report = student.finished(outcome, "sell() with bad input", expect_crashes=True)
    for case, got in zip(cases, report):
        expect_error(case, got, case["error"], name_file=case.get("names_file", False))
        if _read(case["db_path"]) != before[case["db_path"]]:
            raise CheckFailure("sell() changed a ticket file it should have rejected",
                               case=case["label"], expected="the file left as it was", got=_read(case["db_path"]))
    if outcome.trace.arrivals:
        raise CheckFailure("sell() started buyers before it found the input was bad",
                           hint="Check the arguments and the ticket file before starting any process.")


def expect_error(case, got, error, name_file=False):
    raised = got["raised"]
    if raised is None or error not in raised["types"]:
        raise CheckFailure(f"sell() with {case['label']} should raise {error}", case=case["label"],
                           expected=error,
                           got=f"{raised['type']}: {raised['message']}" if raised else f"returned {got['returned']}",
                           hint="Check the input at the top of sell(), before starting any buyer.")
    if name_file and Path(case["db_path"]).name not in raised["message"]:
        raise CheckFailure(f"the {error} for {case['label']} should name the file", case=case["label"],
                           expected=f"a message containing {Path(case['db_path']).name!r}",
                           got=raised["message"], hint="Put the path in the message: f\"{db_path} is not ...\"")


@check("a bad number of buyers gives ValueError", every_start_method=False)
def test_rejects_bad_buyers(student):
    db = str(make_db(3))
    bad_input(student, [{"db_path": db, "buyers": b, "label": f"buyers={b!r}", "error": "ValueError"}
                        for b in (-1, 2.5, "3", None)])


@check("a missing or broken ticket file gives a clear error and stays unchanged", every_start_method=False,
       hidden=True)
def test_rejects_bad_ticket_file(student):
    missing = make_db(0).with_name("missing.json")
    cases = [{"db_path": str(missing), "buyers": 2, "label": "a missing ticket file", "error": "FileNotFoundError"}]
    for text in ("tickets: 3", '{"count": -1}', '{"count": "3"}', '{"count": 1.5}', '{"tickets": 3}', "[3]"):
        cases.append({"db_path": str(make_db(0, text)), "buyers": 2, "label": f"a ticket file holding {text}",
                      "error": "ValueError", "names_file": True})
    bad_input(student, cases)


def _read(path):
    return untrusted.read_text(path, 1 << 16)  # the student's processes could have put anything there
