"""One evening at the KTV as the grader saw it: who the singers were, who was inside a room
when, and what each held there.

Singers are named by the order the program started their processes ("singer 1" has the
lowest pid), not by the order they reached a pause, which is the machine's: so a report names
the same singers on every run of the same program.
"""
from __future__ import annotations

from dataclasses import dataclass

from graders.engine.run import Outcome
from graders.engine.scheduler import Trace

ARRIVE, SING, RETURNED = "arrive", "sing", "kit:returned"


def describe(rooms, singers) -> str:
    return f"{rooms} room{'s' * (rooms != 1)}, {singers} singer{'s' * (singers != 1)}"


@dataclass
class Evening:
    """One run of ktv(rooms, singers)."""

    rooms: int
    singers: int
    outcome: Outcome

    @property
    def trace(self) -> Trace:
        return self.outcome.trace

    @property
    def case(self) -> str:
        return describe(self.rooms, self.singers)

    @property
    def call(self) -> str:
        return f"ktv(rooms={self.rooms}, singers={self.singers})"

    @property
    def pids(self) -> list[int]:
        """The singer processes: every process that came to the door or sang, lowest pid first."""
        return sorted({a.pid for a in self.trace.arrivals if a.stage in (ARRIVE, SING)})

    def name(self, pid) -> str:
        pids = self.pids
        return f"singer {pids.index(pid) + 1}" if pid in pids else f"process {pid}"

    def names(self, pids) -> str:
        return _and([self.name(p) for p in sorted(pids, key=self._order)])

    def _order(self, pid):
        pids = self.pids
        return pids.index(pid) if pid in pids else len(pids)

    def most_inside(self) -> int:
        return self.trace.max_together(SING)

    def fullest(self):
        """The arrivals at pause('sing') of the step with the most singers inside, in singer order."""
        inside = self.most_inside()
        batch = next((b for b in self.trace.batches if len(b.at(SING)) == inside), None)
        return sorted(batch.at(SING), key=lambda a: self._order(a.pid)) if batch else []

    def timeline(self) -> list[str]:
        """One line per step: who was at the door, who sang, and who waited outside meanwhile."""
        first = {}
        for n, batch in enumerate(self.trace.batches):
            for a in batch.arrivals:
                first.setdefault((a.pid, a.stage), n)
        lines = []
        for n, batch in enumerate(self.trace.batches):
            door = {a.pid for a in batch.at(ARRIVE)}
            singing = {a.pid for a in batch.at(SING)}
            waiting = {p for p in self.pids if first.get((p, ARRIVE), n) < n and first.get((p, SING), n + 1) > n
                       and p in batch.alive}
            told = [f"{what}: {self.names(who)}" for what, who in
                    (("at the door", door), ("singing", singing), ("waiting outside", waiting)) if who]
            if door or singing:
                lines.append(f"step {len(lines) + 1}: " + "; ".join(told))
        return lines


def _and(items) -> str:
    if not items:
        return "nobody"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
