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

import copy
from collections import Counter
from dataclasses import dataclass

from graders.engine.checks import CheckFailure, check, hang_summary
from graders.engine.run import Outcome
from graders.engine.scheduler import Trace

RUSH = "graders.rush.probe:rush"
BAD_INPUT = "graders.rush.probe:bad_input"
ARRIVE, CHECK, PUT, WON = "arrive:", "check:", "put:", "won:"
TAKE, RETURNED, CASE = "kit:take", "kit:returned", "kit:case:"
KINDS = {"arrive": ARRIVE, "check": CHECK, "put": PUT, "won": WON, "take": TAKE, "returned": RETURNED}

PUT_BLOCKS_HINT = (
    "A user waited in put() on a full queue, for a phone that never comes back. Put without blocking "
    "(q.put_nowait(user_id), or q.put(user_id, block=False)) and treat queue.Full as sold out. "
    "Asking q.full() first does not help: between the check and the put, other users fill the queue.")


def describe(users, stock) -> str:
    return f"{users} user{'s' * (users != 1)}, {stock} phone{'s' * (stock != 1)}"


@dataclass
class Rush:
    """One finished run of rush(users, stock) and what the grader saw of it."""

    users: int
    stock: int
    ranking: object
    outcome: Outcome

    @property
    def trace(self) -> Trace:
        return self.outcome.trace

    @property
    def case(self) -> str:
        return describe(self.users, self.stock)

    def at(self, prefix) -> list[tuple[object, int]]:
        """(user id, pid) of every pause whose stage starts with `prefix`, in order."""
        return [(_user_id(a.stage[len(prefix):]), a.pid) for a in self.trace.arrivals if a.stage.startswith(prefix)]

    @property
    def user_pids(self) -> set[int]:
        return {pid for _, pid in self.at(ARRIVE)}

    @property
    def winners(self) -> list:
        """The users whose put succeeded, in the order the grader saw them: a "won" only counts from
        the process that arrived as that user, once."""
        arrived = {}
        for user, pid in self.at(ARRIVE):
            arrived.setdefault(user, pid)
        return list(dict.fromkeys(user for user, pid in self.at(WON) if arrived.get(user) == pid))


def _user_id(text):
    try:
        return int(text)
    except ValueError:
        return text


def policy(*priority, order=None):
    """A `choose` policy: release the held threads of the first kind in `priority` that has any.

    Users at the start line go all together, or one by one in `order` when given.
    """
    def choose(held, trace):
        groups = {}
        for a in held:
            kind = next((k for k, prefix in KINDS.items() if a.stage.startswith(prefix)), "other")
            groups.setdefault(kind, []).append(a)
        for kind in (*priority, "other"):
            group = groups.get(kind)
            if group and kind == "arrive" and order is not None:
                waiting = {_user_id(a.stage[len(ARRIVE):]): a for a in group}
                return next(([waiting[u]] for u in order if u in waiting), group[:1])
            if group:
                return group
        return held
    return choose


# Every user tries its luck (and finishes trying) before rush() takes a winner off the queue.
TAKE_LAST = ("check", "won", "put", "arrive", "take", "returned")


class OrderedPuts:
    """A `choose` policy: every user rushes at once, then their puts go through one at a time in
    `order`, and the winners go on after their puts in the reverse order. `puts` records the order
    in which the grader let the puts through: the queue holds the winners in that order, which the
    grader itself decided. A ranking kept anywhere but the queue (a list each winner appends to
    after its put) comes out reversed."""

    def __init__(self, order):
        self.rank = {user: n for n, user in enumerate(order)}
        self.puts = []

    def __call__(self, held, trace):
        def kind(prefix):
            return [a for a in held if a.stage.startswith(prefix)]
        for prefix in (CHECK, ARRIVE):
            if kind(prefix):
                return kind(prefix)
        for prefix, pick in ((PUT, min), (WON, max)):
            group = kind(prefix)
            if group:
                chosen = pick(group, key=lambda a: (self.rank.get(_user_id(a.stage[len(prefix):]), len(self.rank)),
                                                   a.seq))
                if prefix == PUT:
                    self.puts.append(_user_id(chosen.stage[len(PUT):]))
                return [chosen]
        return held


def run_rush(student, users, stock, choose=policy(*TAKE_LAST)) -> Rush:
    """rush(users, stock, arrive) in a child; a CheckFailure if it hung, raised or died."""
    outcome = student.run(RUSH, users=users, stock=stock, choose=choose)
    call = f"rush(users={users}, stock={stock})"
    if outcome.hang is not None:
        raise hang_failure(outcome, call, users, stock)
    ranking = student.finished(outcome, call, case=describe(users, stock))
    return Rush(users, stock, ranking, outcome)


_shared: dict[tuple, Rush | CheckFailure] = {}


def shared_rush(student, users, stock) -> Rush:
    """run_rush with the default policy, run once per submission and start method for all the
    checks that judge the same rush from different sides (the runs are deterministic)."""
    key = (student.submission, student.start_method, users, stock)
    if key not in _shared:
        try:
            _shared[key] = run_rush(student, users, stock)
        except CheckFailure as failure:
            _shared[key] = failure
    if isinstance(_shared[key], CheckFailure):
        raise copy.deepcopy(_shared[key])
    return _shared[key]


def hang_failure(outcome, call, users, stock, hint=None, case=None) -> CheckFailure:
    """A hang, with the stacks grouped (a hundred users stuck on one line make one line), and by
    default a hint that names the mistake the stacks show."""
    hang = outcome.hang
    lines = [f"{n} thread(s) wait in pause('{stage}...')" for stage, n in
             Counter(held.split("pause('", 1)[-1].split(":", 1)[0] for held in hang.held).items()]
    stuck = Counter(tuple(frames[:2]) for threads in hang.stacks.values() for frames in threads)
    for (where, *caller), n in stuck.most_common():
        lines.append(f"{n} processes are stuck at {where}" if n > 1 else f"a process is stuck at {where}")
        lines.extend(f"    called from {c}" for c in caller)
    errors = outcome.stderr.strip().splitlines()
    if errors:
        lines += ["the program wrote to stderr:"] + ["    " + line for line in errors[-8:]]
    won = sum(a.stage.startswith(WON) for a in outcome.trace.arrivals)
    gets = max(0, sum(a.stage == TAKE for a in outcome.trace.arrivals) - 1)  # the last one never returned
    return CheckFailure(hang_summary(outcome, call), kind="hang", case=case or describe(users, stock),
                        hint=hint or stuck_hint([where for where, *_ in stuck], users, stock, won, gets, errors),
                        details=lines)


def stuck_hint(lines, users, stock, won, gets, errors) -> str:
    """What the stuck lines say went wrong: `won` users' puts succeeded, `gets` of rush()'s
    get() calls returned, and `errors` are the lines the program wrote to stderr."""
    if any("can't start new thread" in line or "Resource temporarily unavailable" in line for line in errors):
        return ("The program ran out of processes and threads (the grader limits how many a run may "
                "have). Start one process per user, and nothing more.")
    if any(".put(" in line for line in lines):
        return PUT_BLOCKS_HINT
    if any(".get(" in line for line in lines) and won > gets:
        return (f"{won} users got into a queue, but rush() took {gets} of them off it and then waited for more: "
                "the users put on another queue than the one rush() reads. A queue made at module level "
                "is shared under fork only: make it in rush() and pass it to every user.")
    if any(".get(" in line for line in lines):
        return (f"rush() waited in get() for a winner who never came: with {users} users and {stock} phones, "
                f"only {min(users, stock)} users can win. Read min(users, stock) winners, not stock.")
    return "Start every user, join every user, then read the winners off the queue."


# ---- what every run must show ----

def one_process_per_user(run: Rush):
    arrived = run.at(ARRIVE)
    ids = [user for user, _ in arrived]
    strange = [u for u in ids if not (isinstance(u, int) and 0 <= u < run.users)]
    if strange:
        raise CheckFailure(f"arrive() was called with {strange[0]!r}, which is not a user id", case=run.case,
                           expected=f"arrive(user) with the user's id, 0 to {run.users - 1}",
                           got=f"arrive({strange[0]!r})",
                           hint="Each user calls arrive(user_id) with its own id, before it tries to put.")
    missing = sorted(set(range(run.users)) - set(ids))
    if missing:
        raise CheckFailure(f"{len(missing)} of {run.users} users never called arrive(user)", case=run.case,
                           expected=f"users 0 to {run.users - 1}, each calling arrive(user) once",
                           got=f"users {_few(missing)} never did",
                           hint="Start one process per user, ids 0 to users-1, and keep the arrive(user) call.")
    twice = sorted(u for u, n in Counter(ids).items() if n > 1)
    if twice:
        raise CheckFailure(f"user {twice[0]} called arrive() {Counter(ids)[twice[0]]} times", case=run.case,
                           expected="each user arrives once", got=f"users {_few(twice)} arrived more than once",
                           hint="Each user process runs once: arrive(user), then one put without blocking.")
    processes = len(run.user_pids)
    if processes < run.users:
        raise CheckFailure(f"only {processes} process(es) ran the {run.users} users: the users shared "
                           "a few workers instead of one process per user", case=run.case,
                           expected=f"{run.users} user processes", got=f"{processes} processes called arrive()",
                           hint="Start one multiprocessing.Process per user, not a Pool: a worker runs its "
                                "users one after another, so they never rush together.")


def all_rush_together(run: Rush):
    together = max((sum(a.stage.startswith(ARRIVE) for a in b.arrivals) for b in run.trace.batches), default=0)
    if together >= run.users:
        return
    running = run.trace.max_alive(run.user_pids)
    if running < run.users:
        raise CheckFailure("the users did not all run at once: rush() waited for each user before "
                           "starting the next", case=run.case,
                           expected=f"all {run.users} user processes running at once",
                           got=f"at most {running} running at once",
                           hint="Start every user in one loop, then join them all in another.")
    raise CheckFailure(f"only {together} of {run.users} users were at the start line together", case=run.case,
                       expected=f"all {run.users} users rushing at the same moment", got=f"at most {together}",
                       hint="Start every user before waiting for any of them.")


def ranking_is_valid(run: Rush):
    """min(users, stock) distinct user ids, the very users whose put succeeded."""
    ranking, users, stock = run.ranking, run.users, run.stock
    expected = min(users, stock)
    if not isinstance(ranking, list) or not all(type(r) is int for r in ranking):
        raise CheckFailure("rush() must return a list of user ids", case=run.case,
                           expected=f"a list of {expected} ints", got=repr(ranking)[:200])
    pids = [r for r in ranking if r in run.user_pids]
    if pids:
        raise CheckFailure("the ranking holds process ids, not user ids", case=run.case,
                           expected=f"user ids from 0 to {users - 1}", got=_few(ranking),
                           hint="Put the user's id on the queue, not os.getpid(): the shop knows its "
                                "users by their ids 0 to users-1.")
    strange = [r for r in ranking if not 0 <= r < users]
    if strange:
        raise CheckFailure(f"the ranking holds {strange[0]}, which is not a user id", case=run.case,
                           expected=f"user ids from 0 to {users - 1}", got=_few(ranking),
                           hint="Put each user's own id on the queue, and rank what comes off it.")
    twice = [u for u, n in Counter(ranking).items() if n > 1]
    if twice:
        raise CheckFailure(f"user {twice[0]} is ranked more than once", case=run.case,
                           expected="each winner once", got=_few(ranking))
    winners = run.winners
    if len(winners) > stock:
        raise CheckFailure(f"{len(winners)} users got into the queue, but there were only {stock} phones",
                           case=run.case, expected=f"at most {stock} winners", got=f"{len(winners)} puts succeeded",
                           hint="Queue(0) has no limit at all: with stock 0 nobody may win, so let nobody in."
                           if stock == 0 else "Make the queue Queue(stock), so that a full queue means sold out.")
    if len(ranking) < expected:
        raise CheckFailure(f"the ranking has {len(ranking)} winners, but {expected} users got a phone: "
                           f"rush() reads {expected - len(ranking)} winner(s) too few", case=run.case,
                           expected=f"{expected} winners", got=_few(ranking),
                           hint="Read one winner per phone sold, min(users, stock) of them. "
                                "The seed's loop, range(1, 10), reads only 9.")
    if len(ranking) > expected:
        raise CheckFailure(f"the ranking has {len(ranking)} winners, but only {expected} can win", case=run.case,
                           expected=f"{expected} winners", got=_few(ranking),
                           hint="Queue(0) has no limit at all: with stock 0, nobody wins."
                           if stock == 0 else "Read min(users, stock) winners off the queue.")
    # The ranking is the program's claim; the successful puts the grader saw, each from the process
    # of the user who arrived with that id, are its evidence. A queue the grader cannot watch (every
    # queue the statement allows is watched) or a hook put out of action leaves a ranking unproven.
    if ranking and not winners:
        raise CheckFailure("the grader saw no user's put succeed, yet rush() returned a ranking", case=run.case,
                           expected=f"{expected} successful puts on the queue, one per winner",
                           got=f"none seen; the ranking is {_few(ranking)}",
                           hint="Make the queue with multiprocessing.Queue(stock) (or a context's or a Manager's "
                                "Queue), have each user put its own id on it, and rank what comes off it.")
    if set(ranking) != set(winners):
        raise CheckFailure("the ranking does not name the users who got a phone", case=run.case,
                           expected=_few(sorted(winners)), got=_few(sorted(ranking)),
                           hint="Rank exactly what comes off the queue.")


def last_message(lines, limit=10) -> list[str]:
    """The last message in `lines`, from its first line: a traceback from "Traceback" (and the
    "Process ...:" line multiprocessing writes before it), its middle cut if it is long."""
    start = next((n for n in range(len(lines) - 1, -1, -1) if lines[n].startswith("Traceback")), None)
    if start is None:
        return lines[-limit:]
    if start > 0 and lines[start - 1].startswith("Process ") and lines[start - 1].endswith(":"):
        start -= 1
    message = lines[start:]
    if len(message) > limit:
        message = message[:2] + [f"    ... ({len(message) - limit + 2} lines)"] + message[-(limit - 3):]
    return message


def _few(values, limit=12) -> str:
    values = list(values)
    text = ", ".join(map(str, values[:limit]))
    return f"[{text}{', ...' if len(values) > limit else ''}]"


# ---- the checks ----

# Most users where starting a process is cheap (fork: about 2 ms of CPU each); a forkserver child
# costs about 17 ms of CPU and a spawned one a fresh interpreter. The seed's 100 users run under
# fork; a correct Manager queue takes a server thread per user, about 205 processes and threads,
# within the sandbox's limits.MAX_PROCESSES. Under forkserver, quick mode's one start method,
# 16 users already show every mistake this check is for, and cost half of what 24 did.
RUSH_SIZES = {"fork": (100, 10), "forkserver": (16, 5), "spawn": (12, 4)}


@check("every user is a process of its own, and all of them rush at the same moment", cost=3)
def test_users_rush_at_once(student):
    users, stock = RUSH_SIZES[student.start_method]
    run = run_rush(student, users, stock)
    one_process_per_user(run)
    all_rush_together(run)
    ranking_is_valid(run)


@check("the ranking names the winners by user id, one per phone sold", every_start_method=False,
       shares="rush of 12 users for 4 phones", cost=2)
def test_ranking_names_every_winner(student):
    run = shared_rush(student, users=12, stock=4)
    one_process_per_user(run)
    ranking_is_valid(run)


@check("a user who finds the phones sold out leaves quietly", every_start_method=False,
       shares="rush of 12 users for 4 phones", cost=2)
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
       shares="rush of 12 users for 4 phones", cost=2)
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
