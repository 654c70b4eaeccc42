"""Running rush() under the grader: one run, or one run shared by the checks that judge it from different sides."""
from __future__ import annotations

import copy

from graders.engine.checks import CheckFailure
from graders.rush.hangs import hang_failure
from graders.rush.model import RUSH, TAKE_LAST, Rush, describe, policy


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
