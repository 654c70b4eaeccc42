"""Hidden checks for `ktv`: a few rooms, more singers, a Semaphore.

Every singer calls pause("arrive") at the door and pause("sing") in a room.
The lockstep scheduler holds each there until the whole program is blocked,
so the singers that can be inside together always are: a program that lets
too many in shows it on every run, and one that lets too few in (a Lock is a
room for one) does too. Each pause also says which semaphore its singer held
(the probe traces the student's locks), which is how the report tells a
semaphore of each singer's own from one released twice.
"""
from __future__ import annotations

import dataclasses

from hypothesis import given, strategies as st

from graders.engine.checks import CheckFailure, check
from graders.engine.results import NOT_RUN
from graders.ktv.evening import ARRIVE, RETURNED, SING, Evening

KTV = "graders.ktv.probe:ktv"
BAD_INPUT = "graders.ktv.probe:bad_input"
SONG_FAILED = "SongFailed"

ONE_SEMAPHORE = ("Make one multiprocessing.Semaphore(rooms) in ktv(), pass it to every singer, and hold it while "
                 "the singer sings: `with sem:`.")
GIVE_BACK_HINT = ("Give the room back on every path: `with sem:` releases it when the song raises too, or put "
                  "sem.release() in the `finally:` of a try around sing().")
SEMAPHORES = ("Semaphore", "BoundedSemaphore")


def evening(student, rooms, singers) -> Evening:
    """ktv(rooms, singers) under the scheduler; a CheckFailure on a hang or a crash, or when a
    singer does not come to the door and sing once."""
    outcome = student.run(KTV, rooms=rooms, singers=singers)
    ev = Evening(rooms, singers, outcome)
    student.finished(outcome, ev.call, case=ev.case,
                     hang_hint="Is every room given back on every path? " + GIVE_BACK_HINT)
    follows_contract(ev)
    return ev


def returned_early(ev: Evening):
    """ktv() returned while singers still ran: the runner then ends, and takes them with it, so
    this is told before the pauses they never made."""
    returned = ev.trace.batch_of(RETURNED)
    if returned is None:
        return
    others = returned.alive - {a.pid for a in returned.at(RETURNED)}
    running = others & set(ev.pids) or (others if len(ev.pids) < ev.singers else set())
    if running:
        raise CheckFailure("ktv() returned while singers were still running", case=ev.case,
                           expected="every singer finished when ktv() returns",
                           got=f"{len(running)} of its processes still running",
                           hint="join() every singer before returning.", details=ev.timeline())


def follows_contract(ev: Evening):
    returned_early(ev)
    songs = {pid: ev.trace.stages_of(pid).count(SING) for pid in ev.pids}
    if any(n > 1 for n in songs.values()):
        raise CheckFailure(
            "a process sang more than one song: each singer must be a process of its own, singing once",
            case=ev.case, expected=f"{ev.singers} singer processes, each singing once",
            got=f"{len(ev.pids)} processes sang {sum(songs.values())} songs",
            hint="Start one multiprocessing.Process per singer. A Pool's worker takes task after task, so "
                 "a Pool with fewer workers than singers sings several songs in one process.",
            details=[f"{ev.name(pid)} sang {n} songs" for pid, n in songs.items() if n > 1])
    if len(ev.pids) != ev.singers:
        errors = ev.outcome.stderr.strip().splitlines()
        told = ["the program wrote to stderr:"] + ["    " + e for e in errors[-8:]] if errors else []
        raise CheckFailure(f"{len(ev.pids)} singer process(es) came to the KTV, expected {ev.singers}",
                           case=ev.case, expected=f"{ev.singers} processes, each calling pause('arrive') then "
                                                  "pause('sing')",
                           got=f"{len(ev.pids)} processes called them", hint=missing_hint(ev, errors), details=told)
    for pid in ev.pids:
        stages = [s for s in ev.trace.stages_of(pid) if not s.startswith("kit:")]
        if stages != [ARRIVE, SING]:
            raise CheckFailure("a singer did not call pause('arrive') and then pause('sing'), once each",
                               case=ev.case, expected="['arrive', 'sing']", got=str(stages),
                               hint="Keep singer()'s pause('arrive') and sing() as they are; add the semaphore "
                                    "around the call of sing().")


def missing_hint(ev: Evening, errors) -> str:
    gone = any(e.startswith("FileNotFoundError") for e in errors)
    if gone and ev.outcome.start_method in ("spawn", "forkserver"):
        # multiprocessing's own frames are cut from the traceback: a singer that died unpickling its
        # args, opening a semaphore by its name, leaves only this error.
        return ("A singer process died as it started, before your code ran: under spawn and forkserver a new "
                "process opens the semaphores in its args by their name, and one that the main process no "
                "longer holds is gone by then. Process.start() lets go of its args, so a semaphore made in the "
                "call itself is freed at once: make it once in ktv(), keep it in a variable until every singer "
                "is joined, and pass that one to every singer.")
    return "Start one multiprocessing.Process per singer and keep the pause() calls."


# ---- how many were inside together ----

def not_too_many(ev: Evening):
    inside = ev.most_inside()
    if inside <= ev.rooms:
        return
    expired = ev.trace.expired(ev.pids)
    if expired:
        raise CheckFailure(
            f"more singers were inside at once than there are rooms: {expired[0].describe()} ran out, and the "
            "singer went in without a room", case=ev.case,
            expected=f"at most {ev.rooms} singing at once", got=f"{inside} singing at once",
            hint="acquire(timeout=...) returns False when its time runs out, and on a slow evening it does. "
                 "A singer who got no room must not sing: wait with `with sem:`, or try again until acquire() "
                 "returns True.", details=ev.timeline())
    said, hint, figures = too_many_words(ev)
    raise CheckFailure(f"more singers were inside at once than there are rooms: {said}", case=ev.case,
                       expected=f"at most {ev.rooms} singing at once", got=f"{inside} singing at once",
                       hint=hint, details=figures + ev.timeline())


def too_many_words(ev: Evening) -> tuple[str, str, list[str]]:
    """What the singers inside together held, as each pause told it; the hint it gives; and
    the figures of this case (the summary leaves them out, so that one mistake is told once)."""
    inside = ev.fullest()
    bare = [a for a in inside if not a.locks]
    if len(bare) == len(inside):
        return ("none of them held a semaphore (or any multiprocessing lock) when it went in, so nothing kept "
                "anyone outside"), ONE_SEMAPHORE, []
    if bare:
        return "some went in holding no semaphore", (
                "Every singer must take a room before it sings, whatever path it takes. " + ONE_SEMAPHORE), [
                f"{ev.names(a.pid for a in bare)} went in holding no semaphore, while "
                f"{ev.names(a.pid for a in inside if a.locks)} held one"]
    keys = [frozenset(h.key for h in a.locks) for a in inside]
    shared = frozenset.intersection(*keys)
    if shared:
        lock = next(h for h in inside[0].locks if h.key in shared)
        taken = f"{lock.name} (taken at {lock.site})" if lock.site else lock.name
        made = f"{lock.name} is a {lock.kind}({lock.value})" if lock.value is not None else ""
        if lock.kind in SEMAPHORES and lock.value is not None and lock.value > ev.rooms:
            return (f"they all held {taken}, a {lock.kind} with more places than there are rooms"), (
                    "A Semaphore counts free places, and each acquire takes one: make it Semaphore(rooms), one "
                    "place per room."), [f"{made}: {_n(lock.value, 'place')}, for {_n(ev.rooms, 'room')}"]
        if lock.kind in SEMAPHORES and lock.value is not None:
            return (f"they all held {taken}, and more were inside than it has places: a room was given back "
                    "more times than it was taken, and each extra release lets one more singer in"), (
                    "Release once per acquire: `with sem:` pairs them. A singer that releases twice adds a room "
                    "that does not exist. A BoundedSemaphore raises ValueError when it is released more often "
                    "than acquired, so the mistake shows at the line that makes it."), [
                    f"{made}, and {len(inside)} singers were inside at once"]
        return (f"they all held {taken}, and still more were inside than there are rooms"), (
                "Look at how the semaphore is made and given back: it must start at rooms, and each singer "
                "must release it once, after its song."), []
    told = {(a.locks[0].name, a.locks[0].site) for a in inside}
    if len(told) == 1:
        (name, site), = told
        own, figures = f"each named {name} and taken at {site}", [
            f"{len(inside)} singers were inside at once, each holding a different {name}"]
    else:
        own, figures = "each named and taken as below", [
            f"{ev.name(a.pid)} held {a.locks[0].name} (taken at {a.locks[0].site})" for a in inside]
    return (f"each singer held a semaphore of its own, {own}"), (
            "A semaphore made by each singer, or made at module level (under spawn and forkserver each process "
            "imports the module again and makes its own), keeps no other singer out. " + ONE_SEMAPHORE), figures


def not_too_few(ev: Evening):
    should = min(ev.rooms, ev.singers)
    inside = ev.most_inside()
    if inside >= should:
        return
    running = ev.trace.max_alive(ev.pids)
    if running < should:
        raise CheckFailure(
            "the singers came one after another: ktv() waited for each singer to leave before it started the "
            "next", case=ev.case, expected=f"all {ev.singers} singer processes running at once",
            got=f"at most {running} running at once",
            hint="Start every singer in one loop, then join them all in a second loop.", details=ev.timeline())
    said, hint, figures = too_few_words(ev)
    raise CheckFailure(f"fewer singers sang at once than there were free rooms: {said}", case=ev.case,
                       expected=f"{should} singing at once while the grader held them in their rooms",
                       got=f"at most {inside} singing at once", hint=hint, details=figures + ev.timeline())


def too_few_words(ev: Evening) -> tuple[str, str, list[str]]:
    holders = [a for b in ev.trace.batches for a in b.at(SING) if a.locks]
    keys = [frozenset(h.key for h in a.locks) for a in holders]
    shared = frozenset.intersection(*keys) if keys else frozenset()
    lock = next((h for h in holders[0].locks if h.key in shared), None) if shared else None
    if lock is None:
        return ("singers waited outside while rooms were free"), (
                "A singer must wait only when every room is taken. " + ONE_SEMAPHORE), []
    taken = f"{lock.name} (taken at {lock.site})" if lock.site else lock.name
    if lock.kind not in SEMAPHORES:
        return (f"every singer sang holding {taken}, a {lock.kind}, which lets one singer in at a time"), (
                "A Lock is a room for one. A Semaphore(rooms) counts free rooms: each acquire takes one, each "
                "release gives one back, and a singer waits only when none is free."), [
                f"{_n(ev.rooms, 'room')}, and one singer at a time inside"]
    figures = [f"{lock.name} is a {lock.kind}({lock.value}): {_n(lock.value, 'place')}, for "
               f"{_n(ev.rooms, 'room')}"] if lock.value is not None else []
    return (f"every singer sang holding {taken}, a {lock.kind} with fewer places than there are rooms"), (
            "A Semaphore counts free places, and each acquire takes one: make it Semaphore(rooms), one place "
            "per room."), figures


def _n(count, thing) -> str:
    return f"{count} {thing}{'s' * (count != 1)}"


# ---- the checks ----

@check("as many singers sing at once as there are rooms")
def test_rooms_fill_up(student):
    not_too_few(evening(student, rooms=2, singers=3))


@check("never more singers inside at once than there are rooms")
def test_never_more_than_rooms(student):
    not_too_many(evening(student, rooms=2, singers=5))


@check("every singer sings once, and the rooms fill up but never overflow, whatever the numbers",
       every_start_method=False)
@given(rooms=st.integers(1, 4), singers=st.integers(0, 5))
def test_every_singer_sings_once(student, rooms, singers):
    ev = evening(student, rooms, singers)
    not_too_many(ev)
    not_too_few(ev)


@check("a singer whose song fails still gives the room back", every_start_method=False)
def test_room_given_back_when_song_fails(student):
    rooms, singers = 1, 3
    outcome = student.run(KTV, rooms=rooms, singers=singers, fail=True)
    ev = Evening(rooms, singers, outcome)
    others = [c for c in outcome.crashes if c.type != SONG_FAILED]
    # Only the grader's SongFailed is expected: any other exception of the program is told first.
    told = dataclasses.replace(outcome, crashes=others) if others else outcome
    try:
        student.finished(told, ev.call, case=ev.case + ", and every song fails", expect_crashes=not others,
                         hang_hint=GIVE_BACK_HINT)
    except CheckFailure as failure:
        if outcome.hang is not None and not others and not failure.failure.summary.startswith(NOT_RUN):
            failure.failure.summary = kept_rooms(ev) + failure.failure.summary
            failure.failure.hint = GIVE_BACK_HINT
            failure.failure.details[:0] = ev.timeline()
        raise
    follows_contract(ev)
    if ev.most_inside() > rooms:
        raise CheckFailure(
            "whether a room is given back when a song fails could not be checked: more singers were inside at "
            "once than there are rooms, so nobody ever waited for a room",
            case=ev.case + ", and every song fails", expected=f"at most {rooms} singing at once",
            got=f"{ev.most_inside()} singing at once",
            hint="This check looks at the singers who wait for a room after a song failed in it. Fix 'never "
                 "more singers inside at once than there are rooms' first.")


def kept_rooms(ev: Evening) -> str:
    """Who took a room, had their song fail, and ended without giving it back; who waited for it."""
    failed = {c.pid for c in ev.outcome.crashes if c.type == SONG_FAILED}
    kept = [a for a in ev.trace.arrivals if a.stage == SING and a.pid in failed and a.locks]
    outside = [p for p in ev.pids if p not in ev.trace.pids_at(SING)]
    if not kept or not outside:
        return "a singer whose song failed never gave the room back, so the singers after it waited for ever: "
    lock = kept[0].locks[0]
    taken = f"{lock.name}, taken at {lock.site}" if lock.site else lock.name
    who = ev.names(a.pid for a in kept)
    ended = "it ended" if len(kept) == 1 else "they ended"
    return (f"{who} took a room ({taken}), the song raised {SONG_FAILED}, and {ended} without giving the room "
            f"back, so {ev.names(outside)} waited outside for ever: ")


@check("ktv() returns only after every singer has left", start_method="fork")
def test_waits_for_every_singer(student):
    # Every run tells a ktv() that returns before its singers have left (returned_early); this
    # check weighs it, under fork, where singers that outlive ktv() still come to the door.
    evening(student, rooms=1, singers=2)


BAD = [(0, 0), (-1, 2), (1.5, 2), ("4", 2), (None, 2), (True, 2), (2, -1), (2, 2.5), (2, "13"), (2, None)]


@check("a bad number of rooms or singers gives ValueError and starts nobody", every_start_method=False)
def test_rejects_bad_arguments(student):
    cases = [{"rooms": r, "singers": s, "label": f"ktv(rooms={r!r}, singers={s!r})"} for r, s in BAD]
    outcome = student.run(BAD_INPUT, cases=[{"rooms": c["rooms"], "singers": c["singers"]} for c in cases])
    report = student.finished(outcome, "ktv() with bad arguments", expect_crashes=True)
    for case, got in zip(cases, report):
        raised = got["raised"]
        if raised is None or "ValueError" not in raised["types"]:
            raise CheckFailure(f"{case['label']} should raise ValueError", case=case["label"],
                               expected="ValueError",
                               got=f"{raised['type']}: {raised['message']}" if raised
                               else f"returned {got['returned']}",
                               hint="Check rooms (a whole number, at least 1) and singers (a whole number, at "
                                    "least 0) at the top of ktv(), before starting any singer.")
    if outcome.trace.arrivals:
        raise CheckFailure("ktv() started singers before it found the arguments bad",
                           hint="Check the arguments at the top of ktv(), before starting any process.")
