"""Hidden checks for `rush`: the top-10 phone rush queue.

The grader hands rush() an `arrive` callable (probe.Arrive). Every user calls
it in its own process and is held there by the lockstep scheduler until the
whole program is blocked: then all users rush at once, on every run. Arrive
also holds a user between a full()/empty()/qsize() check and the put that
follows it, so a check-then-put program races every time, and it records
every successful put ("won:ID"), the grader's own list of winners. The main
process waits before every get() ("kit:take").

Each run's `choose` policy says which of the held threads move first, so
every verdict is the same on every run: by default every user tries its luck
before rush() may take a winner off the queue (a get frees a place).
"""
from __future__ import annotations

from graders.engine.checks import CheckFailure, check
from graders.rush.hangs import hang_failure, last_message
from graders.rush.model import ARRIVE, BAD_INPUT, CASE, RETURNED, OrderedPuts, policy
from graders.rush.runs import run_rush, shared_rush
from graders.rush.validate import all_rush_together, one_process_per_user, ranking_is_valid



# Most users where starting a process is cheap (fork copies a process; a forkserver child is
# forked from a server, and a spawned one is a fresh interpreter). The seed's 100 users run under
# fork; a correct Manager queue takes a server thread per user, about 205 processes and threads,
# within the sandbox's resources.MAX_PROCESSES. Under forkserver, quick mode's one start method,
# 16 users already show every mistake this check is for.
RUSH_SIZES = {"fork": (100, 10), "forkserver": (16, 5), "spawn": (12, 4)}


@check("every user is a process of its own, and all of them rush at the same moment", cost=3)
def test_users_rush_at_once(student):
    users, stock = RUSH_SIZES[student.start_method]
    run = run_rush(student, users, stock)
    one_process_per_user(run)
    all_rush_together(run)
    ranking_is_valid(run)


@check("the ranking names the winners by user id, one per phone sold", every_start_method=False,
       same_run="rush of 12 users for 4 phones", cost=2)
def test_ranking_names_every_winner(student):
    run = shared_rush(student, users=12, stock=4)
    one_process_per_user(run)
    ranking_is_valid(run)


@check("a user who finds the phones sold out leaves quietly", every_start_method=False,
       same_run="rush of 12 users for 4 phones", cost=2)
def test_losers_leave_quietly(student):
    run = shared_rush(student, users=12, stock=4)
    text = run.outcome.stderr.strip()
    if text:
        lines = text.splitlines()
        raise CheckFailure("the users who found the phones sold out wrote to stderr", case=run.case,
                           expected="nothing on stderr", got=f"{len(lines)} line(s), ending with: {lines[-1][:200]}",
                           hint="A put without blocking raises queue.Full when the queue is full: catch it "
                                "(`except queue.Full:`) and just return.",
                           details=["the program wrote to stderr (its last message):"]
                           + ["    " + line for line in last_message(lines)])


@check("no user ever waits for a phone: a full queue means sold out at once", every_start_method=False,
       same_run="rush of 12 users for 4 phones", cost=2)
def test_sold_out_never_waits(student):
    # More than twice as many users as phones: even if rush() reads the winners before joining,
    # which frees the queue once, some users who wait in put() wait forever (a hang), and a
    # user who waits with a timeout has its timed wait in the trace.
    run = shared_rush(student, users=12, stock=4)
    waited = [w for w in run.trace.timed_waits if w.pid in run.user_pids]
    if waited:
        users = len({w.pid for w in waited})
        raise CheckFailure(f"{users} user(s) found the phones sold out and waited for one: {waited[0].describe()}",
                           case=run.case, expected="a sold-out user leaves at once",
                           got=f"{users} user(s) waited on the full queue",
                           hint="A timeout only shortens the wait; a sold-out user must not wait at all. Put "
                                "without blocking (q.put_nowait(user_id)) and treat queue.Full as sold out.")


ORDER = [4, 1, 5, 0, 3, 2]  # neither sorted nor reversed: a sorted ranking shows


@check("the ranking lists the winners in the order they got their phones", every_start_method=False)
def test_ranking_in_queue_order(student):
    # All users rush at once; the grader lets their puts through one at a time, in ORDER, so it
    # knows the order of the successful puts from its own releases, not from the program.
    order = ORDER
    policy_ = OrderedPuts(order)
    run = run_rush(student, users=6, stock=3, choose=policy_)
    one_process_per_user(run)
    ranking_is_valid(run)
    if not policy_.puts:
        raise CheckFailure("no user put its id on a queue the grader could watch", case=run.case,
                           expected="each user puts its id on a multiprocessing.Queue or a Manager queue",
                           got="no put on such a queue",
                           hint="Make the queue with multiprocessing.Queue(stock) (or a context's Queue) and "
                                "have each user put its own id on it.")
    expected = policy_.puts[:min(run.users, run.stock)]
    if run.ranking != expected:
        kept = sorted(run.ranking) == sorted(expected)
        raise CheckFailure("the ranking is not in the order the winners' puts reached the queue",
                           case=f"{run.case}, all users rushing at once, their puts reaching the queue in the "
                                f"order {policy_.puts}, each winner going on after its put in the reverse order",
                           expected=str(expected), got=str(run.ranking),
                           hint="Return the winners in the order q.get() gives them: first in, first ranked. "
                                "Do not sort them, and do not keep a ranking of your own (a list each winner "
                                "appends to): the order of the puts is the queue's, only the queue knows it."
                           if kept else "Rank what comes off the queue, in the order it comes.")


@check("once the phones are sold out, no later user gets one", every_start_method=False)
def test_sold_out_stays_sold_out(student):
    # Users come one by one, and rush() may take a winner off the queue as soon as it asks.
    run = run_rush(student, users=6, stock=3,
                   choose=policy("check", "won", "put", "take", "arrive", "returned", order=ORDER))
    winners = run.winners
    if len(winners) > run.stock:
        raise CheckFailure(f"{len(winners)} users got a phone, but there were only {run.stock}: rush() took "
                           "winners off the queue while other users were still rushing, and each get() "
                           "made room for one more", case=f"{run.case}, users arriving one at a time",
                           expected=f"{run.stock} winners", got=f"users {winners} got into the queue",
                           hint="Join every user first, then read the winners: the queue is the stock, "
                                "and taking a winner off it puts a phone back on sale.")
    ranking_is_valid(run)


@check("with fewer users than phones, every user wins", every_start_method=False)
def test_fewer_users_than_phones(student):
    run = run_rush(student, users=3, stock=10)
    ranking_is_valid(run)


@check("with no phones, nobody wins", start_method="fork")
def test_no_phones_no_winners(student):
    # Pinned to fork: the users of a rush() that returns without joining them still try their
    # luck, instead of crashing on the queue that rush() dropped.
    run = run_rush(student, users=5, stock=0)
    ranking_is_valid(run)


@check("rush() returns only after every user process has finished", start_method="fork")
def test_waits_for_every_user(student):
    # Pinned to fork: an unjoined child stays in view (running, or a zombie) instead of crashing
    # on the queue that rush() dropped. Winners wait at "won" until rush() has returned, if it
    # returns without them.
    run = run_rush(student, users=12, stock=4, choose=policy("arrive", "check", "put", "take", "returned", "won"))
    returned = run.trace.batch_of(RETURNED)
    if returned is None:
        return
    main = returned.at(RETURNED)[0].pid
    left = returned.alive - {main}
    if left:
        users = len(left & run.user_pids)
        others = len(left) - users
        what = " and ".join(filter(None, [f"{users} user process{'es' * (users != 1)}" if users else "",
                                          f"{others} other process{'es' * (others != 1)}" if others else ""]))
        raise CheckFailure(f"rush() returned while {what} it started {'were' if len(left) > 1 else 'was'} "
                           "still running or not yet joined", case=run.case,
                           expected="every process it started finished and joined when rush() returns",
                           got=f"{what} still there when rush() returned",
                           hint="join() every user before returning the ranking (join them all first, "
                                "then read the winners).")


@check("bad users or stock give ValueError", every_start_method=False)
def test_rejects_bad_arguments(student):
    cases = [{"users": u, "stock": 4, "label": f"users={u!r}"} for u in (-1, 2.5, "3", None)]
    cases += [{"users": 3, "stock": s, "label": f"stock={s!r}"} for s in (-1, 1.5, "10", None)]
    outcome = student.run(BAD_INPUT, cases=[{"users": c["users"], "stock": c["stock"]} for c in cases])
    if outcome.hang is not None:
        started = [a.stage for a in outcome.trace.arrivals if a.stage.startswith(CASE)]
        label = cases[int(started[-1][len(CASE):])]["label"] if started else None
        raise hang_failure(outcome, f"rush({label})", 0, 0, case=label,
                           hint="Check users and stock at the top of rush() and raise ValueError "
                                "before starting any user or reading any winner.")
    report = student.finished(outcome, "rush() with bad arguments")
    for case, got in zip(cases, report):
        raised = got["raised"]
        if raised is None or "ValueError" not in raised["types"]:
            raise CheckFailure(f"rush() with {case['label']} should raise ValueError", case=case["label"],
                               expected="ValueError",
                               got=f"{raised['type']}: {raised['message']}" if raised else f"returned {got['returned']}",
                               hint="Check users and stock at the top of rush(): whole numbers >= 0 "
                                    "(`type(x) is not int or x < 0`), before starting any user.")
    if any(a.stage.startswith(ARRIVE) for a in outcome.trace.arrivals):
        raise CheckFailure("rush() started users before it found the arguments were bad",
                           hint="Check users and stock before starting any process.")
