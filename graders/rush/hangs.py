"""A hung rush, told from the stacks: which line everyone is stuck at, and what that means."""
from __future__ import annotations

from collections import Counter

from graders.engine.checks import CheckFailure, hang_summary
from graders.rush.model import TAKE, WON, describe

PUT_BLOCKS_HINT = (
    "A user waited in put() on a full queue, for a phone that never comes back. Put without blocking "
    "(q.put_nowait(user_id), or q.put(user_id, block=False)) and treat queue.Full as sold out. "
    "Asking q.full() first does not help: between the check and the put, other users fill the queue.")

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
