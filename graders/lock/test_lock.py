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

from graders.engine.checks import CheckFailure, check

SELL = "graders.lock.probe:sell"
BAD_INPUT = "graders.lock.probe:bad_input"
RETURNED = "kit:returned"

NO_SHARED_LOCK_HINT = (
    "Nothing keeps two buyers out of buy() at once: either there is no lock, or each buyer makes its own, "
    "which protects nothing. Make one lock in sell(), pass it to every buyer, and hold it around buy().")


def describe(tickets, buyers) -> str:
    return f"{tickets} ticket{'s' * (tickets != 1)}, {buyers} buyer{'s' * (buyers != 1)}"


def make_db(count, text=None) -> Path:
    path = Path(tempfile.mkdtemp(prefix="kit-db-")) / "tickets.json"
    path.write_text(text if text is not None else json.dumps({"count": count}))
    return path


def sell(student, tickets, buyers, before_contract=None):
    """Run sell() on a fresh ticket file; (result, tickets left, trace).

    `before_contract(trace)` looks at the trace before the stage contract is
    checked, for mistakes that also break the contract.
    """
    db = make_db(tickets)
    outcome = student.run(SELL, db_path=str(db), buyers=buyers)
    case = describe(tickets, buyers)
    result = student.finished(outcome, f"sell(db, {buyers})", case=case,
                              hang_hint="Is the lock released on every path? `with lock:` releases it "
                                        "even when a buyer returns early because the tickets are sold out.")
    if before_contract:
        before_contract(outcome.trace)
    follows_contract(outcome.trace, buyers)
    return result, json.loads(db.read_text()).get("count"), outcome.trace


def follows_contract(trace, buyers):
    pids = trace.pids_at("search")
    if len(pids) != buyers:
        raise CheckFailure(f"{len(pids)} buyer process(es) called pause('search'), expected {buyers}",
                           expected=f"{buyers} buyer processes, each calling pause('search') then pause('buy')",
                           got=f"{len(pids)} processes called pause('search')",
                           hint="Start one multiprocessing.Process per buyer and keep the pause() calls.")
    for pid in pids:
        stages = [s for s in trace.stages_of(pid) if s != RETURNED]
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
        raise CheckFailure(
            f"only {together} of 3 buyers could search at the same time: the lock covers searching too",
            expected="all 3 buyers inside search() together", got=f"at most {together} together",
            hint="Hold the lock around buy() only. Searching just reads, and must stay concurrent.")


@check("only one buyer is inside buy() at a time")
def test_buy_is_exclusive(student):
    _, _, trace = sell(student, tickets=3, buyers=3)
    together = trace.max_together("buy")
    if together > 1:
        raise CheckFailure(
            f"{together} buyers were inside buy() at the same time",
            expected="one buyer at a time inside buy()", got=f"{together} buyers inside buy() together",
            hint=NO_SHARED_LOCK_HINT,
            details=trace.timeline(["search", "buy"], role="buyer"))


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
    result, _, _ = sell(student, tickets=1, buyers=3)
    if sum(result) != 1:
        raise CheckFailure("with 1 ticket and 3 buyers, exactly one buyer must get it",
                           expected="1 ticket sold", got=f"{sum(result)} sold")


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
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return None
