"""The grading side of lock tracing: the wait-for graph of a hung run, told in words.

Each process of a run writes its part of the graph to `locks-PID.json` in the
run's stacks folder (child/locktrace.py). After a hang, `explain(folder)`
reads those files, bounded, since they are the student's process's writing,
and returns the deadlocks and the other waits in words (`run.py` does this for
every hang); `held_locks()` checks what a `pause` says its thread held.
"""
from __future__ import annotations

import glob
import linecache
import os
import re
from dataclasses import dataclass, field

from graders.engine import stacks
from graders.sandbox import untrusted

FILE_PATTERN = "locks-*.json"  # the files child/locktrace.py writes, one per process
KINDS = ("Lock", "RLock", "Semaphore", "BoundedSemaphore")
SEMAPHORES = ("Semaphore", "BoundedSemaphore")


@dataclass(frozen=True)
class Held:
    """A traced lock a thread held at a `pause`, as its process told the grader."""

    names: tuple[str, ...]  # the student's names for it ("lock_A", "lock_B" for one lock with two names)
    kind: str  # Lock, RLock, Semaphore or BoundedSemaphore
    key: str  # the same key in two processes means the same lock
    site: str | None  # where the thread took it: "shop.py:40"
    value: int | None = None  # a semaphore's initial value

    @property
    def name(self) -> str:
        return self.names[0]


def held_locks(raw) -> tuple[Held, ...]:
    """The `locks` of a pause message, checked field by field (it comes from the student's process)."""
    if not isinstance(raw, list):
        return ()
    found = []
    for item in raw[:32]:
        try:
            names = tuple(n[:MAX_TEXT] for n in item["names"][:8] if isinstance(n, str)) or ("a lock",)
            site, value = item.get("site"), item.get("value")
            found.append(Held(names=names, kind=item["kind"] if item["kind"] in KINDS else "Lock",
                              key=str(item["key"])[:MAX_TEXT],
                              site=site[:MAX_TEXT] if isinstance(site, str) else None,
                              value=value if type(value) is int else None))
        except (TypeError, KeyError, AttributeError):
            continue
    return tuple(found)


@dataclass
class LockReport:
    """A hang in words: the deadlock cycles, and every other wait for a traced lock."""

    deadlocks: list[str] = field(default_factory=list)
    waits: list[str] = field(default_factory=list)


def explain(folder: str, submission: str | None = None) -> LockReport:
    """Read the graph the processes of a run left in `folder`, and tell it.

    The files come from the student's processes, so they are read as untrusted:
    bounded, checked field by field, and source lines are read only from files
    inside `submission`.
    """
    snapshots = []
    for path in sorted(glob.glob(os.path.join(folder, FILE_PATTERN)))[:MAX_FILES]:
        text = untrusted.read_text(path, MAX_FILE_CHARS)
        try:
            snapshots.append(_checked(untrusted.loads(text)))
        except (TypeError, ValueError, KeyError):  # None, or not a graph: a file the student made
            continue
    try:
        return _Graph(snapshots, submission).tell()
    except Exception:  # a last net: a forged file must never pass for a bug in the kit
        return LockReport()


MAX_FILES = 256
MAX_FILE_CHARS = 1_000_000
MAX_TEXT = 100


def _checked(snap) -> dict:
    """One process's snapshot with every field of the right type; ValueError if it cannot be."""
    def text(value):
        if not isinstance(value, str):
            raise ValueError(value)
        return value[:MAX_TEXT]

    def number(value):
        if type(value) is not int:
            raise ValueError(value)
        return value

    def site(value):
        if value is None:
            return None
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)
                and len(value[0]) <= 4096):
            raise ValueError(value)
        return [value[0], number(value[1])]

    locks = {text(key): {"names": [text(n) for n in lock["names"]][:8] or ["a lock"],
                         "kind": lock.get("kind") if lock.get("kind") in KINDS else "Lock"}
             for key, lock in snap["locks"].items()}
    return {
        "pid": number(snap["pid"]), "process": text(snap["process"]), "locks": locks,
        "holds": [{"lock": text(h["lock"]), "tid": number(h["tid"]), "thread": text(h["thread"]),
                   "site": site(h["site"])} for h in snap["holds"]],
        "waits": [{"lock": text(w["lock"]), "tid": number(w["tid"]), "thread": text(w["thread"]),
                   "site": site(w["site"])} for w in snap["waits"]],
    }


def _natural(text: str):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


class _Graph:
    def __init__(self, snapshots, submission=None):
        self.submission = submission
        self.locks, self.holder, self.waiting = {}, {}, {}
        self.process_of = {}
        for snap in snapshots:
            pid = snap["pid"]
            self.process_of[pid] = snap["process"]
            self.locks.update(snap["locks"])
            for h in snap["holds"]:
                self.holder[h["lock"]] = dict(h, node=(pid, h["tid"]))
            for w in snap["waits"]:
                self.waiting[(pid, w["tid"])] = w
        involved = {node[0] for node in self.waiting} | {h["node"][0] for h in self.holder.values()}
        self.many_processes = len(involved) > 1

    def name(self, node, thread: str) -> str:
        # Thread(target=f) is named "Thread-1 (f)": the site already says where, so drop the "(f)".
        thread = re.sub(r"^(Thread-\d+) \(\w+\)$", r"\1", thread)
        return f"{thread} of {self.process_of.get(node[0])}" if self.many_processes else thread

    def lock_name(self, key, site=None) -> str:
        names = self.locks.get(key, {}).get("names") or ["a lock"]
        if len(names) > 1 and site and self.submission and stacks.inside(site[0], self.submission):
            line = linecache.getline(site[0], site[1])
            used = [n for n in names if re.search(rf"\b{re.escape(n)}\b", line)]
            if len(used) == 1:
                return used[0]
        return names[0]

    def order(self, node):
        """Waiting threads in the order a person counts them: Thread-2 before Thread-10."""
        return _natural(self.name(node, self.waiting[node]["thread"])), node

    def edge(self, node):
        """The thread that holds what `node` waits for, or None."""
        wait = self.waiting.get(node)
        held = self.holder.get(wait["lock"]) if wait else None
        return held["node"] if held else None

    def cycles(self) -> list[list[tuple]]:
        found, seen = [], set()
        for start in sorted(self.waiting, key=self.order):
            path, node = [], start
            while node is not None and node not in path and node not in seen:
                path.append(node)
                node = self.edge(node)
            seen.update(path)
            if node is not None and node in path:
                cycle = path[path.index(node):]
                first = min(range(len(cycle)), key=lambda i: self.order(cycle[i]))
                found.append(cycle[first:] + cycle[:first])
        return found

    def tell(self) -> LockReport:
        report = LockReport()
        in_cycle = set()
        for cycle in self.cycles():
            in_cycle.update(cycle)
            report.deadlocks.append(self.tell_cycle(cycle))
        for node in sorted(self.waiting, key=self.order):
            wait = self.waiting[node]
            if node not in in_cycle:
                report.waits.append(self.tell_wait(node, wait))
        return report

    def tell_cycle(self, cycle) -> str:
        if len(cycle) == 1:
            node = cycle[0]
            wait = self.waiting[node]
            held = self.holder[wait["lock"]]
            first, again = self.lock_name(wait["lock"], held["site"]), self.lock_name(wait["lock"], wait["site"])
            kind = self.locks.get(wait["lock"], {}).get("kind", "Lock")
            who = self.name(node, wait["thread"])
            also = f" as {again}" if again != first else ""
            same = f"{first} and {again} are one {kind}, and " if again != first else ""
            return (f"{who} holds {first}{_at(held['site'])} and waits for it again{also}{_at(wait['site'])}: "
                    f"{same}a {kind} is not re-entrant")
        parts = []
        for i, node in enumerate(cycle):
            wait = self.waiting[node]
            holds_key = self.waiting[cycle[i - 1]]["lock"]
            held = self.holder[holds_key]
            parts.append(f"{self.name(node, wait['thread'])} holds {self.lock_name(holds_key, held['site'])}"
                         f"{_at(held['site'])} and waits for {self.lock_name(wait['lock'], wait['site'])}"
                         f"{_at(wait['site'])}")
        return "; ".join(parts)

    def tell_wait(self, node, wait) -> str:
        who = self.name(node, wait["thread"])
        lock = self.lock_name(wait["lock"], wait["site"])
        held = self.holder.get(wait["lock"])
        if held is None:
            return f"{who} waits for {lock}{_at(wait['site'])}, which no thread holds as far as the grader saw"
        holder = self.name(held["node"], held["thread"])
        if held["tid"] == -1:
            return (f"{who} waits for {lock}{_at(wait['site'])}, which {holder} of the parent process held "
                    f"when this process was forked: the child's copy stays locked for ever")
        if not _alive(held["node"]):
            return (f"{who} waits for {lock}{_at(wait['site'])}, which {holder} took{_at(held['site'])} "
                    f"and never released: {holder} has ended")
        return f"{who} waits for {lock}{_at(wait['site'])}, which {holder} holds{_at(held['site'])}"


def _at(site) -> str:
    return f" ({os.path.basename(site[0])}:{site[1]})" if site else ""


def _alive(node) -> bool:
    pid, tid = node
    if tid is None or tid < 0:
        return False
    return os.path.exists(f"/proc/{pid}/task/{tid}") or not os.path.isdir("/proc")
