"""Hidden checks for `traffic`: cars wait for the green light.

The grader hands drive() its own light (probe.Light), which switches the
student's Event by a script: a red that lasts until every timeout that can run
out has, a red timed on the virtual clock, a green for ever. Each car calls
pause("arrive:KIND:N") and pause("cross:KIND:N"), so the grader sees when each
car arrived and crossed, and what the light showed then. Every arrival and
release carries its step (engine/scheduler.py): a car that crosses in the step
the light turned green was woken by it; one that crosses later needed time to
pass first (a sleep, a timeout), which is polling. No check waits real seconds.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from graders.engine.checks import CheckFailure, check, hang_summary
from graders.engine.run import Outcome
from graders.engine.scheduler import Arrival, Trace

DRIVE = "graders.traffic.probe:drive"
BAD_INPUT = "graders.traffic.probe:bad_input"
RETURNED, CASE = "kit:returned", "kit:case:"
PATIENCE = 0.5  # the police car's, in traffic.py
SLACK = 0.01  # seconds of virtual time a police car's own sums of timeouts may be off by

# Red for 4.7 s on the virtual clock, so that a car that gives up after a few timeouts gives up on red,
# then red until every timeout that can run out has (a single long one), then green.
RED_HELD = [["red", 4.7], ["red", "hold"], ["green", None]]
RED_THEN_GREEN = [["red", 0.37], ["green", None]]  # green comes before a police car's patience runs out
GREEN = [["green", None]]
RED_FOREVER = [["red", None]]

WAIT_HINT = ("green.wait() blocks until the light is green, and returns at once when it already is: "
             "no loop, no sleep, no timeout for an ordinary car.")
BUSY_HINT = ("A loop that asks green.is_set() again and again keeps a whole core busy while the light is red, "
             "and a light that runs on time never gets its turn. " + WAIT_HINT)
POLL_HINT = ("A car that looks at is_set() and sleeps in a loop sees the green late, and wakes for nothing "
             "while it is red. " + WAIT_HINT)
POLICE_HINT = ("A police car waits at most PATIENCE seconds: green.wait(PATIENCE) returns True at once on "
               "green, or False when its patience has run out, and either way the police car crosses.")
ONE_EVENT_HINT = ("The light and every car must share one multiprocessing.Event: make it in drive(), hand it to "
                  "light.start(), and pass it to every car in its args. An Event made at module level is shared "
                  "under fork only (under spawn and forkserver every process imports the module again and makes "
                  "its own), and a threading.Event is never shared between processes.")


def describe(cars, police) -> str:
    def count(n, what):
        return f"no {what}" if n == 0 else f"{n} {what}{'s' * (n != 1)}"
    return f"{count(cars, 'car')}, {count(police, 'police car')}"


def colours(script) -> str:
    words, last = [], None
    for colour, length in script:
        said = "and then" if colour == last else colour if last is None else f"then {colour}"
        if length == "hold":
            words.append(f"{said} until every timeout that can run out has")
        elif length is None:
            words.append(f"{said} for ever" if last is None else said)
        else:
            words.append(f"{said} for {length:g} s")
        last = colour
    return ", ".join(words)


@dataclass
class Car:
    number: int
    police: bool
    arrive: Arrival | None = None
    cross: Arrival | None = None
    let_go: tuple[int, float] | None = None  # (step, virtual time) it was let go from its arrival

    @property
    def name(self) -> str:
        return f"{'police car' if self.police else 'car'} {self.number}"

    @property
    def pid(self):
        return self.arrive.pid if self.arrive else self.cross.pid if self.cross else None


class Policy:
    """A `choose` policy: every held thread goes on at once, except that a light holding its colour
    ("light:red:hold") switches only when nothing else is held, so every timeout that can run out
    has; and with `returned_first`, a car crosses only when nothing else is held either, so a drive()
    that returns without waiting for its cars returns while they are still there."""

    def __init__(self, returned_first=False):
        self.returned_first = returned_first
        self.released: dict[int, int] = {}  # arrival seq -> index of the batch that let it go

    def __call__(self, held, trace):
        def last(a):
            return 2 if a.stage.endswith(":hold") else 1 if self.returned_first and a.stage.startswith("cross:") else 0
        first = min(last(a) for a in held)
        chosen = [a for a in held if last(a) == first]
        for a in chosen:
            self.released[a.seq] = len(trace.batches)
        return chosen


@dataclass
class Drive:
    """One run of drive(cars, police) under a light script, and what the grader saw of it."""

    cars: int
    police: int
    script: list
    outcome: Outcome
    policy: Policy

    @property
    def trace(self) -> Trace:
        return self.outcome.trace

    @property
    def case(self) -> str:
        return f"{describe(self.cars, self.police)}; the light {colours(self.script)}"

    @property
    def main(self) -> set[int]:
        return {a.pid for a in self.trace.arrivals if a.stage.startswith(("light:", "kit:"))}

    def all_cars(self) -> list[Car]:
        found = {n: Car(n, n >= self.cars) for n in range(self.cars + self.police)}
        for a in self.trace.arrivals:
            what, _, rest = a.stage.partition(":")
            kind, _, number = rest.partition(":")
            if what not in ("arrive", "cross") or not number.isdigit() or int(number) not in found:
                continue
            car = found[int(number)]
            if getattr(car, what) is None:
                setattr(car, what, a)
                if what == "arrive" and a.seq in self.policy.released:
                    batch = self.trace.batches[self.policy.released[a.seq]]
                    car.let_go = (batch.step, batch.now)
        return list(found.values())

    def switches(self) -> list[tuple[int, float, str]]:
        """(step, virtual time, colour) of each colour the light showed, the first one included."""
        found = [(0, 0.0, self.script[0][0])]
        for a in self.trace.arrivals:
            if a.stage.startswith("light:") and a.pid in self.main:
                colour = a.stage.split(":")[1]
                if colour in ("red", "green") and colour != found[-1][2]:
                    found.append((a.step, a.now, colour))
        return found

    def colour_at(self, step) -> str:
        return [colour for at, _, colour in self.switches() if at <= step][-1]

    def green_after(self, step):
        """(step, time) the light turned green at or after `step`; None if it never did."""
        return next(((s, t) for s, t, colour in self.switches() if colour == "green" and s >= step), None)

    def light_started(self) -> bool:
        return any(a.stage.startswith("light:") and a.pid in self.main for a in self.trace.arrivals) \
            or any(w.what == "light" for w in self.trace.timed_waits) or bool(self.outcome.hang and any(
                "traffic light" in line for line in self.outcome.hang.held))

    def light_off(self) -> Arrival | None:
        return next((a for a in self.trace.arrivals if a.stage == "light:off" and a.pid in self.main), None)

    def waits_of(self, car: Car, expired=None):
        return [w for w in self.trace.timed_waits
                if w.pid == car.pid and (expired is None or w.expired == expired)]

    def timeline(self) -> list[str]:
        """One line per step in which something happened: the light's colour, who arrived and who crossed."""
        events: dict[int, tuple[float, list[str], list[str], dict[str, list[str]]]] = {}

        def at(step, now):
            return events.setdefault(step, (now, [], [], {}))
        for step, now, colour in self.switches():
            at(step, now)[1].append(f"the light turns {colour}" if step else f"the light is {colour}"
                                    if self.light_started() else "the light is not started")
        for car in self.all_cars():
            if car.arrive is not None:
                step, now = car.let_go or (car.arrive.step, car.arrive.now)
                at(step, now)[2].append(car.name)
            if car.cross is not None:
                at(car.cross.step, car.cross.now)[3].setdefault(self.colour_at(car.cross.step), []).append(car.name)
        off = self.light_off()
        if off is not None:
            at(off.step, off.now)[1].append("the light is stopped")
        lines = []
        for step in sorted(events):
            now, light, arrived, crossed = events[step]
            told = light + ([f"{_and(arrived)} arrive{'s' * (len(arrived) == 1)}"] if arrived else [])
            told += [f"{_and(names)} cross{'es' * (len(names) == 1)} on {colour}" for colour, names in crossed.items()]
            lines.append(f"step {len(lines) + 1}: at {now:.2f} s, " + "; ".join(told))
        return lines


def _where(frame: str) -> str:
    """"traffic.py:68 (`while not green.is_set():`)" of a frame told as "traffic.py:68 in car: while ...  # ..."."""
    site, _, rest = frame.partition(" in ")
    source = rest.partition(": ")[2].split("  #")[0].strip()
    return f"{site} (`{source}`)" if source else site


def _and(items) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def run_drive(student, cars, police, script, returned_first=False) -> Drive:
    """drive(cars, police) in a child under the light `script`; a CheckFailure if it hung, raised or died."""
    policy = Policy(returned_first)
    outcome = student.run(DRIVE, script=script, cars=cars, police=police, choose=policy)
    run = Drive(cars, police, script, outcome, policy)
    call = f"drive(cars={cars}, police={police})"
    if outcome.hang is not None and not outcome.crashes:
        raise hang_failure(run, call)
    student.finished(outcome, call, case=run.case)
    follows_contract(run)
    return run


def returned_early(run: Drive):
    returned = run.trace.batch_of(RETURNED)
    left = [c for c in run.all_cars() if returned is not None and c.pid in returned.alive]
    if left:
        raise CheckFailure("drive() returned before every car had crossed", case=run.case,
                           expected="every car crossed and joined when drive() returns",
                           got=f"{_and([c.name for c in left])} still running when drive() returned",
                           hint="Start every car in one loop, then join() them all in another, before drive() "
                                "returns.",
                           details=[f"still running when drive() returned: {_and([c.name for c in left])}"]
                           + run.timeline())


def follows_contract(run: Drive):
    returned_early(run)  # the cars it left behind were stopped with the rest, wherever they were
    for car in run.all_cars():
        kind = "police" if car.police else "car"
        if car.arrive is None or car.cross is None:
            missing = "arrive" if car.arrive is None else "cross"
            raise CheckFailure(f"{car.name} never called pause('{missing}:{kind}:{car.number}')", case=run.case,
                               expected=f"{run.cars + run.police} cars, numbered 0 to {run.cars + run.police - 1} "
                                        "(the police cars last), each calling pause('arrive:...') then "
                                        "pause('cross:...') once",
                               got=_and([a.stage for a in run.trace.arrivals if not a.stage.startswith(("light:",
                                                                                                       "kit:"))]
                                        or ["no car paused"]),
                               hint="Start one process per car, cars 0 to cars-1 with car(), then the police cars "
                                    "with police_car(), and keep the pause() calls as they are.",
                               details=run.timeline())
        wrong = [a.stage for a in (car.arrive, car.cross) if a.stage.split(":")[1] != kind]
        if wrong:
            raise CheckFailure(f"{car.name} said it was {'an ordinary car' if car.police else 'a police car'}: "
                               f"it called pause('{wrong[0]}')", case=run.case,
                               expected=f"cars 0 to {run.cars - 1} run car(), the police cars after them "
                                        "run police_car()",
                               hint="Number the police cars after the ordinary ones: range(cars, cars + police).")
        if car.arrive.pid != car.cross.pid or car.pid in run.main:
            raise CheckFailure(f"{car.name} did not arrive and cross in a process of its own", case=run.case,
                               expected="every car a process started by drive()",
                               got="it ran in drive()'s own process" if car.pid in run.main
                               else "it arrived in one process and crossed in another",
                               hint="Start one multiprocessing.Process per car; a car is not a thread of drive().")


def hang_failure(run: Drive, call: str) -> CheckFailure:
    """A hang, told as what the cars and the light were doing: a car spinning on is_set(), cars waiting
    on a green that came on another Event, a police car waiting without a timeout, a stopped light."""
    outcome, hang = run.outcome, run.outcome.hang
    cars = {c.pid: c for c in run.all_cars() if c.pid is not None}
    waiting = [c for c in cars.values() if c.cross is None]
    where = {}
    for pid, threads in hang.stacks.items():
        if pid in cars and threads:
            where[cars[pid].name] = threads[0][0]
    told = [f"of process {pid} " for pid in cars] + ["traffic light"]  # by name below
    lines = [line for line in hang.held if not any(t in line for t in told)] + run.timeline()
    lines += [f"{name} is stuck at {frame}" for name, frame in sorted(where.items())]
    summary, hint = hang_summary(outcome, call), None
    spinning = {name: frame for name, frame in where.items() if "is_set" in frame}
    green = run.green_after(0)
    off = run.light_off()
    if hang.reason == "deadline" and spinning:
        name, frame = next(iter(spinning.items()))
        summary = (f"{call} did not finish: {name} was still running at the deadline, at {_where(frame)}: "
                   "a loop that asks is_set() over and over burns a whole core while it waits")
        hint = BUSY_HINT
    elif not run.light_started() and waiting:
        summary = (f"{call} never finished: the light was never started, so {_and([c.name for c in waiting])} "
                   "waited for a green that never came")
        hint = "Call light.start(green) in drive(), with the Event the cars wait on, before waiting for the cars."
    elif off is not None and waiting and run.colour_at(off.step) == "red":
        summary = (f"{call} never finished: drive() stopped the light on red while "
                   f"{_and([c.name for c in waiting])} still waited for green")
        hint = "Stop the light only once every car has crossed: join every car first, then call light.stop()."
    elif green is not None and any(not c.police for c in waiting):
        stuck = [c for c in waiting if not c.police]
        at = next((where[c.name] for c in stuck if c.name in where), None)
        summary = (f"{call} never finished: the light turned green at {green[1]:.2f} s, but "
                   f"{_and([c.name for c in stuck])} kept waiting{f' at {_where(at)}' if at else ''}: "
                   f"{'they wait' if len(stuck) > 1 else 'it waits'} on another Event than the one the light switches")
        hint = ONE_EVENT_HINT
    elif green is None and any(c.police for c in waiting):
        police = next(c for c in waiting if c.police)
        at = where.get(police.name)
        summary = (f"{call} never finished: the light stayed red, and {police.name} waited for ever"
                   f"{f' at {_where(at)}' if at else ''}: its wait has no timeout")
        hint = POLICE_HINT
    return CheckFailure(summary, kind="hang", case=run.case, hint=hint or (
        "Every car waits for green with green.wait(), and drive() joins every car, then stops the light."),
        details=lines)


# ---- the checks ----

@check("no car crosses while the light is red")
def test_cars_wait_for_green(student):
    run = run_drive(student, cars=2, police=0, script=RED_HELD)
    for car in run.all_cars():
        if car.police or run.colour_at(car.cross.step) != "red":
            continue
        expired = run.waits_of(car, expired=True)
        if expired:
            raise CheckFailure(f"{car.name} crossed on red: {expired[-1].describe()} ran out, and it crossed anyway",
                               case=run.case, expected="every car crosses on green",
                               got=f"{car.name} crossed on red at {car.cross.now:.2f} s",
                               hint="A timeout is for the police car only: on a slow day it runs out while the "
                                    "light is still red. " + WAIT_HINT,
                               details=run.timeline())
        raise CheckFailure(f"{car.name} crossed on red without waiting for green: it looked at the light "
                           "(or not at all) and went on", case=run.case, expected="every car crosses on green",
                           got=f"{car.name} crossed on red at {car.cross.now:.2f} s",
                           hint="green.is_set() only tells the colour now: a car that finds it red must then wait. "
                                + WAIT_HINT,
                           details=run.timeline())


@check("a waiting car crosses as soon as the light turns green")
def test_cars_go_on_green(student):
    run = run_drive(student, cars=2, police=1, script=RED_THEN_GREEN)
    green_step, green_now = run.green_after(0) or (None, None)
    waited = [c for c in run.all_cars() if not c.police and green_step is not None and c.cross.step >= green_step]
    if not waited:
        raise CheckFailure("no car was still waiting when the light turned green, so this could not be checked: "
                           "the cars crossed on red", case=run.case,
                           expected=f"every car waits on red, and crosses at {RED_THEN_GREEN[0][1]:g} s when the "
                                    "light turns green",
                           got="no car waited", details=run.timeline(),
                           hint="Fix 'no car crosses while the light is red' first: this check looks at the cars "
                                "that wait for green.")
    for car in run.all_cars():
        if run.colour_at(car.cross.step) != "green":
            continue  # crossing on red is told by the other checks
        start = car.let_go[0] if car.let_go else car.arrive.step
        if run.colour_at(start) == "green":
            continue  # it arrived on green
        green_step, green_now = run.green_after(start)
        if car.cross.step == green_step:
            continue
        late = car.cross.now - green_now
        sleeps = [w for w in run.waits_of(car) if w.what == "sleep"]
        later = f", {late:.2f} s later" if late >= 0.005 else ""
        if len(sleeps) > 1:
            summary = (f"{car.name} was in {sleeps[-1].describe()} when the light turned green, and crossed only "
                       f"after its sleep was over{later}: it polls the light")
            hint = POLL_HINT
        elif sleeps:
            summary = (f"{car.name} was in {sleeps[-1].describe()} when the light turned green, and crossed only "
                       f"after its sleep was over{later}: it slept instead of waiting for the light")
            hint = (POLICE_HINT if car.police else WAIT_HINT) + " A sleep does not end when the light turns green."
        else:
            summary = f"{car.name} crossed {late:.2f} s after the light turned green, not at once"
            hint = WAIT_HINT
        raise CheckFailure(summary, case=run.case,
                           expected=f"every waiting car crosses at {green_now:.2f} s, woken by the green light",
                           got=f"{car.name} crossed {late:.2f} s later" if late >= 0.005 else
                           f"{car.name} crossed when a timeout of its own had run out, after the light turned green",
                           hint=hint, details=run.timeline())


@check("a car that arrives on green crosses at once")
def test_green_means_go(student):
    run = run_drive(student, cars=1, police=1, script=GREEN)
    for car in run.all_cars():
        if car.let_go is None or car.cross.step == car.let_go[0]:
            continue
        waited = run.waits_of(car)
        what = f": {waited[0].describe()}" if waited else ""
        raise CheckFailure(f"{car.name} arrived on green and still waited before crossing{what}", case=run.case,
                           expected="a car that finds the light green crosses at once",
                           got=f"{car.name} crossed {car.cross.now - car.let_go[1]:.2f} s after it arrived",
                           hint=(POLICE_HINT if car.police else WAIT_HINT) + " Wait only while the light is red.",
                           details=run.timeline())


@check("a police car waits half a second on red, then crosses anyway", every_start_method=False)
def test_police_patience(student):
    run = run_drive(student, cars=0, police=1, script=RED_FOREVER)
    (car,) = run.all_cars()
    waited = car.cross.now - (car.let_go[1] if car.let_go else car.arrive.now)
    expected = f"it crosses on red after waiting {PATIENCE:g} s for green"
    if waited < SLACK:
        raise CheckFailure(f"{car.name} crossed on red at once, without waiting for green", case=run.case,
                           expected=expected, got=f"it waited {waited:.2f} s", hint=POLICE_HINT,
                           details=run.timeline())
    if waited > PATIENCE + SLACK:
        raise CheckFailure(f"{car.name} waited {waited:.2f} s on red before it crossed: its patience is "
                           f"{PATIENCE:g} s", case=run.case, expected=expected, got=f"it waited {waited:.2f} s",
                           hint="Wait PATIENCE seconds, the constant in traffic.py: green.wait(PATIENCE).",
                           details=run.timeline())


_shared: dict[tuple, Drive | CheckFailure] = {}

RETURN_RUN = "green light, a car and a police car; drive() may return before they cross"


def returning_drive(student) -> Drive:
    """A green light, and drive()'s return let go before any car crosses: run once for both checks."""
    key = (student.submission, student.start_method)
    if key not in _shared:
        try:
            _shared[key] = run_drive(student, cars=1, police=1, script=GREEN, returned_first=True)
        except CheckFailure as failure:
            _shared[key] = failure
    if isinstance(_shared[key], CheckFailure):
        raise copy.deepcopy(_shared[key])
    return _shared[key]


@check("drive() returns only after every car has crossed", every_start_method=False, same_run=RETURN_RUN)
def test_waits_for_every_car(student):
    run = returning_drive(student)
    returned_early(run)


@check("drive() stops the light before it returns", every_start_method=False, same_run=RETURN_RUN)
def test_stops_the_light(student):
    run = returning_drive(student)
    returned = next((a for a in run.trace.arrivals if a.stage == RETURNED), None)
    off = run.light_off()
    if returned is not None and (off is None or off.seq > returned.seq):
        raise CheckFailure("drive() returned and left the light running", case=run.case,
                           expected="light.stop() called before drive() returns", got="the light was never stopped",
                           hint="Once every car has crossed and been joined, call light.stop().",
                           details=run.timeline())


@check("bad numbers of cars give ValueError", every_start_method=False)
def test_rejects_bad_arguments(student):
    cases = [{"cars": c, "police": 1, "label": f"cars={c!r}"} for c in (-1, 2.5, "3", None)]
    cases += [{"cars": 2, "police": p, "label": f"police={p!r}"} for p in (-1, 1.5, "1", None)]
    outcome = student.run(BAD_INPUT, script=GREEN, cases=[{"cars": c["cars"], "police": c["police"]} for c in cases])
    report = student.finished(outcome, "drive() with bad arguments", expect_crashes=True)
    for case, got in zip(cases, report):
        raised = got["raised"]
        if raised is None or "ValueError" not in raised["types"]:
            said = f"{raised['type']}: {raised['message']}" if raised else f"returned {got['returned']}"
            raise CheckFailure(f"drive() with {case['label']} should raise ValueError", case=case["label"],
                               expected="ValueError", got=said,
                               hint="Check cars and police at the top of drive(): whole numbers >= 0 "
                                    "(`type(x) is not int or x < 0`), before starting the light or any car.")
    started = [a.stage for a in outcome.trace.arrivals if not a.stage.startswith(CASE)]
    if started:
        raise CheckFailure("drive() started the light or a car before it found the arguments were bad",
                           got=f"pause('{started[0]}') was called",
                           hint="Check cars and police before starting the light or any process.")
