"""What every run of rush() must show: one process per user, all rushing at once, a ranking the grader saw won."""
from __future__ import annotations

from collections import Counter

from graders.engine.checks import CheckFailure
from graders.rush.model import ARRIVE, Rush, few


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
                           got=f"users {few(missing)} never did",
                           hint="Start one process per user, ids 0 to users-1, and keep the arrive(user) call.")
    twice = sorted(u for u, n in Counter(ids).items() if n > 1)
    if twice:
        raise CheckFailure(f"user {twice[0]} called arrive() {Counter(ids)[twice[0]]} times", case=run.case,
                           expected="each user arrives once", got=f"users {few(twice)} arrived more than once",
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
                           expected=f"user ids from 0 to {users - 1}", got=few(ranking),
                           hint="Put the user's id on the queue, not os.getpid(): the shop knows its "
                                "users by their ids 0 to users-1.")
    strange = [r for r in ranking if not 0 <= r < users]
    if strange:
        raise CheckFailure(f"the ranking holds {strange[0]}, which is not a user id", case=run.case,
                           expected=f"user ids from 0 to {users - 1}", got=few(ranking),
                           hint="Put each user's own id on the queue, and rank what comes off it.")
    twice = [u for u, n in Counter(ranking).items() if n > 1]
    if twice:
        raise CheckFailure(f"user {twice[0]} is ranked more than once", case=run.case,
                           expected="each winner once", got=few(ranking))
    winners = run.winners
    if len(winners) > stock:
        raise CheckFailure(f"{len(winners)} users got into the queue, but there were only {stock} phones",
                           case=run.case, expected=f"at most {stock} winners", got=f"{len(winners)} puts succeeded",
                           hint="Queue(0) has no limit at all: with stock 0 nobody may win, so let nobody in."
                           if stock == 0 else "Make the queue Queue(stock), so that a full queue means sold out.")
    if len(ranking) < expected:
        raise CheckFailure(f"the ranking has {len(ranking)} winners, but {expected} users got a phone: "
                           f"rush() reads {expected - len(ranking)} winner(s) too few", case=run.case,
                           expected=f"{expected} winners", got=few(ranking),
                           hint="Read one winner per phone sold, min(users, stock) of them. "
                                "The seed's loop, range(1, 10), reads only 9.")
    if len(ranking) > expected:
        raise CheckFailure(f"the ranking has {len(ranking)} winners, but only {expected} can win", case=run.case,
                           expected=f"{expected} winners", got=few(ranking),
                           hint="Queue(0) has no limit at all: with stock 0, nobody wins."
                           if stock == 0 else "Read min(users, stock) winners off the queue.")
    # The ranking is the program's claim; the successful puts the grader saw, each from the process
    # of the user who arrived with that id, are its evidence. A queue the grader cannot watch (every
    # queue the statement allows is watched) or a hook put out of action leaves a ranking unproven.
    if ranking and not winners:
        raise CheckFailure("the grader saw no user's put succeed, yet rush() returned a ranking", case=run.case,
                           expected=f"{expected} successful puts on the queue, one per winner",
                           got=f"none seen; the ranking is {few(ranking)}",
                           hint="Make the queue with multiprocessing.Queue(stock) (or a context's or a Manager's "
                                "Queue), have each user put its own id on it, and rank what comes off it.")
    if set(ranking) != set(winners):
        raise CheckFailure("the ranking does not name the users who got a phone", case=run.case,
                           expected=few(sorted(winners)), got=few(sorted(ranking)),
                           hint="Rank exactly what comes off the queue.")
