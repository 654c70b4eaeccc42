"""A run of rush() under the grader: the stages users pass, the release policies, and the record of a run."""
from __future__ import annotations

from dataclasses import dataclass

from graders.engine.run import Outcome
from graders.engine.scheduler import Trace

RUSH = "graders.rush.probe:rush"
BAD_INPUT = "graders.rush.probe:bad_input"
ARRIVE, CHECK, PUT, WON = "arrive:", "check:", "put:", "won:"
TAKE, RETURNED, CASE = "kit:take", "kit:returned", "kit:case:"
KINDS = {"arrive": ARRIVE, "check": CHECK, "put": PUT, "won": WON, "take": TAKE, "returned": RETURNED}
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


def few(values, limit=12) -> str:
    values = list(values)
    text = ", ".join(map(str, values[:limit]))
    return f"[{text}{', ...' if len(values) > limit else ''}]"
