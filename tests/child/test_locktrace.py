"""Traced locks: a hang is told as its deadlock cycle, at the student's lines;
a program that does not hang behaves as it would untraced."""
import json

import pytest

from graders.engine import lockgraph
from deadlocks import OPPOSITE_ORDERS, line_of


def test_two_locks_in_opposite_orders_are_told_as_a_cycle(program):
    outcome = program(OPPOSITE_ORDERS)("probe")
    assert outcome.hang is not None and outcome.hang.reason == "stuck"
    at = lambda text: f"prog.py:{line_of(OPPOSITE_ORDERS, text)}"
    assert outcome.hang.deadlocks == [
        f"one holds lock_A ({at('one takes A')}) and waits for lock_B ({at('one wants B')}); "
        f"two holds lock_B ({at('two takes B')}) and waits for lock_A ({at('two wants A')})"]
    assert outcome.hang.lock_waits == []


ONE_LOCK_TWO_NAMES = """
    import threading
    from graders.child import locktrace

    lock_A = lock_B = threading.Lock()

    def probe(student, pause):
        locktrace.trace(student)
        with lock_A:  # first
            with lock_B:  # again
                pass
"""


def test_a_lock_taken_again_is_told_by_the_name_each_line_uses(program):
    outcome = program(ONE_LOCK_TWO_NAMES)("probe")
    first, again = line_of(ONE_LOCK_TWO_NAMES, "# first"), line_of(ONE_LOCK_TWO_NAMES, "# again")
    assert outcome.hang.deadlocks == [
        f"MainThread holds lock_A (prog.py:{first}) and waits for it again as lock_B (prog.py:{again}): "
        "lock_A and lock_B are one Lock, and a Lock is not re-entrant"]


ENDED_HOLDER = """
    import threading
    from graders.child import locktrace

    def take(lock):
        lock.acquire()  # never releases

    def probe(student, pause):
        locktrace.trace(student)
        guard = threading.Lock()  # made after trace(): named after its variable
        worker = threading.Thread(target=take, args=(guard,), name="worker")
        worker.start()
        worker.join()
        helper = threading.Thread(target=lambda: guard.acquire(), name="helper")  # helper waits
        helper.start()
        guard.acquire()  # main waits here
"""


def test_a_lock_whose_holder_ended_is_told_with_every_waiter(program):
    outcome = program(ENDED_HOLDER)("probe")
    at = lambda text: f"prog.py:{line_of(ENDED_HOLDER, text)}"
    assert outcome.hang.deadlocks == []
    assert outcome.hang.lock_waits == [
        f"MainThread waits for guard ({at('main waits')}), which worker took ({at('never releases')}) "
        "and never released: worker has ended",
        f"helper waits for guard ({at('helper waits')}), which worker took ({at('never releases')}) "
        "and never released: worker has ended"]


SHARED = """
    import multiprocessing
    from graders.child import locktrace

    def child(pause, first, second):
        with first:  # child takes B
            pause("first")
            with second:  # child wants A
                pass

    def probe(student, pause):
        locktrace.trace(student)
        lock_A = multiprocessing.Lock()
        lock_B = multiprocessing.Lock()
        p = multiprocessing.Process(target=child, args=(pause, lock_B, lock_A))
        p.start()
        with lock_A:  # main takes A
            pause("first")
            with lock_B:  # main wants B
                pass
        p.join()
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_a_cycle_across_processes_names_each_process(program, start_method):
    outcome = program(SHARED, start_method=start_method)("probe")
    at = lambda text: f"prog.py:{line_of(SHARED, text)}"
    # the child's lock is a parameter: it is named after the variable that made it
    assert outcome.hang.deadlocks == [
        f"MainThread of MainProcess holds lock_A ({at('main takes A')}) and waits for lock_B ({at('main wants B')}); "
        f"MainThread of Process-1 holds lock_B ({at('child takes B')}) and waits for lock_A ({at('child wants A')})"]


WELL_BEHAVED = """
    import pickle
    import queue
    import threading
    from graders.child import locktrace

    lock = threading.Lock()
    rlock = threading.RLock()

    def probe(student, pause):
        locktrace.trace(student)
        seen = {"traced": [type(lock).__name__, type(rlock).__name__],
                "stdlib": type(queue.Queue().mutex).__name__}
        with rlock:
            with rlock:
                seen["owned"] = rlock._is_owned()
        condition = threading.Condition(rlock)
        box = []

        def give():
            with condition:
                box.append(1)
                condition.notify()
        with condition:
            threading.Thread(target=give).start()
            seen["waited"] = condition.wait_for(lambda: box, timeout=30)
        lock.acquire()
        seen["timed out"] = lock.acquire(timeout=0.01)
        seen["non-blocking"] = lock.acquire(False)
        lock.release()
        try:
            lock.release()
        except RuntimeError:
            seen["release unlocked"] = "RuntimeError"
        try:
            pickle.dumps(lock)
        except TypeError:
            seen["pickle"] = "TypeError"
        return seen
"""


def test_traced_locks_behave_like_the_real_ones(program):
    outcome = program(WELL_BEHAVED)("probe")
    assert outcome.finished, outcome.error
    assert outcome.value == {"traced": ["TracedLock", "TracedLock"], "stdlib": "lock", "owned": True,
                             "waited": [1], "timed out": False, "non-blocking": False,
                             "release unlocked": "RuntimeError", "pickle": "TypeError"}


def test_explain_reads_the_files_and_orders_threads_as_people_count(tmp_path):
    site = lambda n: ["/x/shop.py", n]
    snapshot = {
        "pid": 1, "process": "MainProcess",
        "locks": {"a": {"names": ["a"], "kind": "Lock", "shared": False},
                  "b": {"names": ["b"], "kind": "RLock", "shared": False},
                  "c": {"names": ["c"], "kind": "Lock", "shared": False}},
        "holds": [{"lock": "a", "tid": 10, "thread": "Thread-10 (work)", "site": site(1), "count": 1},
                  {"lock": "b", "tid": 2, "thread": "Thread-2 (work)", "site": site(2), "count": 2}],
        "waits": [{"lock": "b", "tid": 10, "thread": "Thread-10 (work)", "site": site(3)},
                  {"lock": "a", "tid": 2, "thread": "Thread-2 (work)", "site": site(4)},
                  {"lock": "c", "tid": 3, "thread": "Thread-3 (work)", "site": site(5)}],
    }
    (tmp_path / "locks-1.json").write_text(json.dumps(snapshot))
    (tmp_path / "locks-2.json").write_text("{not json")
    report = lockgraph.explain(str(tmp_path))
    assert report.deadlocks == ["Thread-2 holds b (shop.py:2) and waits for a (shop.py:4); "
                                "Thread-10 holds a (shop.py:1) and waits for b (shop.py:3)"]
    assert report.waits == ["Thread-3 waits for c (shop.py:5), which no thread holds as far as the grader saw"]


@pytest.mark.parametrize("text", [
    '{"pid": "1", "process": "P", "locks": {}, "holds": [], "waits": []}',
    '{"pid": 1, "process": "P", "locks": {"a": {"names": [1]}}, "holds": [], "waits": []}',
    '{"pid": 1, "process": "P", "locks": {}, "holds": [{"lock": "a"}], "waits": []}',
    '{"pid": 1, "process": "P", "locks": {}, "holds": [], "waits": [{"lock": "a", "tid": 2, "thread": "t", '
    '"site": ["/etc/passwd", "x"]}]}',
    '[1, 2]', '"text"', '{}',
])
def test_explain_ignores_files_it_cannot_trust(tmp_path, text):
    (tmp_path / "locks-1.json").write_text(text)
    assert lockgraph.explain(str(tmp_path)) == lockgraph.LockReport()


def test_explain_reads_source_lines_only_inside_the_submission(tmp_path):
    outside = tmp_path / "secret.py"
    outside.write_text("password = lock_B\n")
    snapshot = {
        "pid": 1, "process": "MainProcess",
        "locks": {"a": {"names": ["lock_A", "lock_B"], "kind": "Lock"}},
        "holds": [{"lock": "a", "tid": 1, "thread": "MainThread", "site": [str(outside), 1], "count": 1}],
        "waits": [{"lock": "a", "tid": 1, "thread": "MainThread", "site": [str(outside), 1]}],
    }
    (tmp_path / "locks-1.json").write_text(json.dumps(snapshot))
    told = lockgraph.explain(str(tmp_path), submission=str(tmp_path / "student")).deadlocks
    assert told == ["MainThread holds lock_A (secret.py:1) and waits for it again (secret.py:1): "
                    "a Lock is not re-entrant"]
    told = lockgraph.explain(str(tmp_path), submission=str(tmp_path)).deadlocks
    assert told == ["MainThread holds lock_B (secret.py:1) and waits for it again (secret.py:1): "
                    "a Lock is not re-entrant"]


HELD_AT_PAUSE = """
    import multiprocessing
    import threading
    from graders.child import locktrace

    lock_A = threading.RLock()
    gate = threading.BoundedSemaphore(2)

    def child(pause, shared):
        with shared:  # child takes shared
            pause("child")

    def probe(student, pause):
        locktrace.trace(student)
        shared = multiprocessing.Semaphore(3)
        with lock_A:  # main takes A
            with gate:  # main takes gate
                pause("both")
        pause("none")
        p = multiprocessing.Process(target=child, args=(pause, shared))
        p.start()
        p.join()
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_each_pause_carries_the_locks_its_thread_holds(program, start_method):
    outcome = program(HELD_AT_PAUSE, start_method=start_method)("probe")
    assert outcome.finished, outcome.error or outcome.hang
    at = lambda text: f"prog.py:{line_of(HELD_AT_PAUSE, text)}"
    seen = {a.stage: [(h.name, h.kind, h.site, h.value) for h in a.locks] for a in outcome.trace.arrivals}
    assert seen == {"both": [("lock_A", "RLock", at("main takes A"), None),
                             ("gate", "BoundedSemaphore", at("main takes gate"), 2)],
                    "none": [],
                    "child": [("shared", "Semaphore", at("child takes shared"), 3)]}


SEMAPHORE_TAKEN_AGAIN = """
    import threading
    from graders.child import locktrace

    gate = threading.Semaphore(1)

    def probe(student, pause):
        locktrace.trace(student)
        with gate:  # first
            with gate:  # again
                pass
"""


def test_a_semaphore_taken_again_is_told_as_a_deadlock(program):
    outcome = program(SEMAPHORE_TAKEN_AGAIN)("probe")
    at = lambda text: f"prog.py:{line_of(SEMAPHORE_TAKEN_AGAIN, text)}"
    assert outcome.hang.deadlocks == [
        f"MainThread holds gate ({at('# first')}) and waits for it again ({at('# again')}): "
        "a Semaphore is not re-entrant"]


def test_held_locks_from_a_pause_message_are_checked_field_by_field():
    raw = [{"names": ["a", 3], "kind": "Lock", "key": "k", "site": "x.py:1", "value": None},
           {"names": [], "kind": "Weird", "key": 5, "site": 7, "value": "3"},
           {"kind": "Lock"}, "text", None]
    assert lockgraph.held_locks(raw) == (
        lockgraph.Held(names=("a",), kind="Lock", key="k", site="x.py:1"),
        lockgraph.Held(names=("a lock",), kind="Lock", key="5", site=None))
    assert lockgraph.held_locks("not a list") == () == lockgraph.held_locks(None)


CONDITIONS = """
    import multiprocessing
    import threading
    from graders.child import locktrace

    def child(pause, shared):
        with shared:  # child takes shared
            shared.notify_all()
            pause("child")

    def probe(student, pause):
        locktrace.trace(student)
        guard = threading.Condition()
        shared = multiprocessing.Condition()
        with guard:  # main takes guard
            waited = guard.wait(timeout=0.01)
        with guard:  # main takes guard again
            pause("main")
        p = multiprocessing.Process(target=child, args=(pause, shared))
        p.start()
        p.join()
        return waited
"""


@pytest.mark.parametrize("start_method", ["fork", "spawn", "forkserver"])
def test_a_condition_made_without_a_lock_gets_a_traced_one(program, start_method):
    outcome = program(CONDITIONS, start_method=start_method)("probe")
    assert outcome.finished, outcome.error or outcome.hang
    assert outcome.value is False
    at = lambda text: f"prog.py:{line_of(CONDITIONS, text)}"
    seen = {a.stage: [(h.name, h.kind, h.site) for h in a.locks] for a in outcome.trace.arrivals}
    assert seen == {"main": [("guard", "RLock", at("main takes guard again"))],
                    "child": [("shared", "RLock", at("child takes shared"))]}


KINDS_SEEN = """
    import multiprocessing
    import threading
    from graders.child import locktrace

    manager = multiprocessing.Manager()
    early = manager.RLock()

    def probe(student, pause):
        locktrace.trace(student)
        made = {"sem": threading.Semaphore(2), "bounded": threading.BoundedSemaphore(1),
                "cond": threading.Condition(), "mp": multiprocessing.Lock()}
        class Gate(threading.Semaphore):
            pass
        seen = {"Semaphore": [k for k, v in made.items() if isinstance(v, threading.Semaphore)],
                "BoundedSemaphore": [k for k, v in made.items() if isinstance(v, threading.BoundedSemaphore)],
                "Condition": [k for k, v in made.items() if isinstance(v, threading.Condition)],
                "subclass": issubclass(threading.BoundedSemaphore, threading.Semaphore),
                "Gate": isinstance(Gate(1), threading.Semaphore)}
        with made["bounded"]:
            pass
        late = manager.Lock()
        with early:  # takes early
            with late:  # takes late
                pause("both")
        manager.shutdown()
        return seen
"""


def test_lock_classes_stay_classes_and_a_managers_locks_are_traced(program):
    outcome = program(KINDS_SEEN)("probe")
    assert outcome.finished, outcome.error or outcome.hang
    assert outcome.value == {"Semaphore": ["sem", "bounded"], "BoundedSemaphore": ["bounded"],
                             "Condition": ["cond"], "subclass": True, "Gate": True}
    at = lambda text: f"prog.py:{line_of(KINDS_SEEN, text)}"
    (both,) = outcome.trace.arrivals
    assert [(h.name, h.kind, h.site) for h in both.locks] == [("early", "RLock", at("takes early")),
                                                              ("late", "Lock", at("takes late"))]
