"""Time in the model: a timed wait of the student's code is a thread whose timeout can expire.

The grader lets it expire when nothing else can move, before held threads go
on, and it costs no real time: a 30 s timeout is decided in milliseconds.
"""
import pytest

from graders.engine.settings import START_METHODS

HOLDER = """
    import multiprocessing, queue, threading, time

    def hold(pause, lock, ready):
        with lock:
            ready.set()
            pause("holding")
"""


@pytest.mark.parametrize("start_method", START_METHODS)
def test_a_timeout_expires_before_held_threads_go_on(program, start_method):
    run = program(HOLDER + """
    def probe(student, pause):
        lock, ready = multiprocessing.Lock(), multiprocessing.Event()
        p = multiprocessing.Process(target=hold, args=(pause, lock, ready))
        p.start()
        ready.wait()
        got = lock.acquire(timeout=30)
        p.join()
        return got
    """, start_method=start_method)
    outcome = run("probe")
    assert outcome.finished, outcome
    assert outcome.value is False
    [wait] = outcome.trace.expired()
    assert (wait.what, wait.seconds, wait.site) == ("acquire", 30, "prog.py:14")
    assert wait.describe() == "the wait at prog.py:14 (timeout 30 s)"


def test_a_poll_with_a_timeout_lets_held_threads_go_on(program):
    """A thread that polls with a timeout cannot keep the others held for ever."""
    run = program("""
        import multiprocessing, queue

        def produce(pause, q):
            for item in range(3):
                pause("put")
                q.put(item)

        def probe(student, pause):
            q = multiprocessing.Queue()
            p = multiprocessing.Process(target=produce, args=(pause, q))
            p.start()
            got, empties = [], 0
            while len(got) < 3:
                try:
                    got.append(q.get(timeout=10))
                except queue.Empty:
                    empties += 1
            p.join()
            return {"got": got, "empties": empties}
    """, deadline=100)
    outcome = run("probe")
    assert outcome.finished, outcome
    assert outcome.value["got"] == [0, 1, 2]
    assert outcome.value["empties"] == len(outcome.trace.expired()) >= 3


def test_a_wait_that_ends_by_itself_is_recorded_as_ended(program):
    run = program("""
        import threading

        def probe(student, pause):
            done = threading.Event()
            def work():
                pause("work")
                done.set()
            t = threading.Thread(target=work)
            t.start()
            first = done.wait(timeout=5)   # expires: work() is held
            second = done.wait(timeout=5)  # work() is released, and sets it
            t.join()
            return [first, second]
    """)
    outcome = run("probe")
    assert outcome.value == [False, True]
    assert [w.expired for w in outcome.trace.timed_waits] == [True, False]


@pytest.mark.parametrize("start_method", START_METHODS)
def test_pool_results_and_joins_time_out_too(program, start_method):
    run = program("""
        import multiprocessing

        def task(pause):
            pause("task")
            return 1

        def probe(student, pause):
            with multiprocessing.Pool(1) as pool:
                result = pool.apply_async(task, (pause,))
                try:
                    result.get(timeout=1)
                    timed_out = False
                except multiprocessing.TimeoutError:
                    timed_out = True
                value = result.get()
            p = multiprocessing.Process(target=task, args=(pause,))
            p.start()
            p.join(timeout=5)
            alive = p.is_alive()
            p.join()
            return [timed_out, value, alive]
    """, start_method=start_method)
    outcome = run("probe")
    assert outcome.value == [True, 1, True], outcome
    assert [w.what for w in outcome.trace.expired()] == ["wait", "wait"]


def test_a_managers_timed_get_is_timed_too(program):
    run = program("""
        import multiprocessing, queue

        def probe(student, pause):
            with multiprocessing.Manager() as manager:
                q = manager.Queue()
                try:
                    q.get(timeout=20)
                except queue.Empty:
                    return "empty"
    """, deadline=60)
    outcome = run("probe")
    assert outcome.value == "empty", outcome
    [wait] = outcome.trace.expired()
    assert wait.seconds == pytest.approx(20)


def test_sleeping_costs_no_real_time_and_a_clock_past_the_deadline_is_a_hang(program):
    run = program("""
        import time

        def probe(student, pause, naps):
            for _ in range(naps):
                time.sleep(4)
            return "woke"
    """, deadline=10)
    assert run("probe", naps=2).value == "woke"
    outcome = run("probe", naps=3)
    assert outcome.hang is not None and outcome.hang.reason == "deadline"
    assert any("time.sleep at prog.py:6 (timeout 4 s)" in line for line in outcome.hang.held)


@pytest.mark.parametrize("start_method", START_METHODS)
def test_sleepers_wake_in_the_order_of_their_deadlines_on_every_run(program, start_method):
    run = program("""
        import multiprocessing, time

        def sleeper(pause, i):
            time.sleep([0.05, 0.01, 0.03][i])
            pause(f"woke {i}")

        def probe(student, pause):
            ps = [multiprocessing.Process(target=sleeper, args=(pause, i)) for i in range(3)]
            for p in ps:
                p.start()
            for p in ps:
                p.join()
    """, start_method=start_method)
    for _ in range(3):
        trace = run("probe").trace
        assert [a.stage for a in trace.arrivals] == ["woke 1", "woke 2", "woke 0"]
        assert len(trace.batches) == 1  # all three were held together before any went on


def test_arrivals_and_releases_carry_the_virtual_clock_and_the_step(program):
    """What one expiry or release lets go arrives at its step, at the time the clock shows then."""
    run = program("""
        import threading, time

        def sleeper(pause, seconds):
            time.sleep(seconds)
            pause("woke")

        def probe(student, pause):
            threads = [threading.Thread(target=sleeper, args=(pause, s)) for s in (0.3, 0.3, 0.5)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    """)
    trace = run("probe").trace
    first, second, third = trace.arrivals
    assert [a.now for a in trace.arrivals] == pytest.approx([0.3, 0.3, 0.5])
    assert first.step == second.step < third.step  # the two 0.3 s sleeps ran out together
    [batch] = trace.batches  # the 0.5 s one ran out before the held two went on
    assert batch.now == pytest.approx(0.5) and batch.step == third.step + 1


def test_a_wait_ends_though_a_fork_holds_a_copy_of_its_connection(program):
    """A thread's timed wait was open when another thread forked: the fork's copy of the connection
    must not hide the wait's end, or the held child is never let go (a hang at the deadline)."""
    run = program("""
        import multiprocessing, threading, time

        def child(pause):
            pause("child")

        def nap():
            time.sleep(0.5)

        def probe(student, pause):
            sleeper = threading.Thread(target=nap)
            sleeper.start()
            time.sleep(0.2)  # runs out first: the sleeper's wait is open when the child is forked
            p = multiprocessing.Process(target=child, args=(pause,))
            p.start()
            p.join()
            sleeper.join()
            return "done"
    """, start_method="fork", deadline=5)
    outcome = run("probe")
    assert outcome.value == "done", outcome.hang


def test_the_kits_own_code_can_wait_on_the_virtual_clock(program):
    """timed.wait_for: a probe's clock (the traffic light's phases) runs out like the student's timeouts,
    and ends early when what it waits for comes."""
    run = program("""
        import threading
        from graders.child import timed

        def probe(student, pause):
            never, soon = threading.Event(), threading.Event()
            waits = [threading.Thread(target=timed.wait_for, args=(never.wait, 3, "light")),
                     threading.Thread(target=timed.wait_for, args=(soon.wait, 60, "light"))]
            for t in waits:
                t.start()
            waits[0].join()  # the 3 s wait runs out first, in no real time
            soon.set()
            waits[1].join()
    """)
    outcome = run("probe")
    assert outcome.finished, outcome
    assert [(w.what, w.seconds, w.expired) for w in outcome.trace.timed_waits] == [("light", 3, True),
                                                                                  ("light", 60, False)]


def test_with_nothing_held_a_polls_timeouts_run_out_in_the_order_of_their_deadlines(program):
    """A thread that waits again after its timeout ran out waits behind held threads only: with
    nothing held, its next timeout runs out before another thread's later one."""
    run = program("""
        import threading, time

        def nap():
            time.sleep(4.7)

        def probe(student, pause):
            never = threading.Event()
            sleeper = threading.Thread(target=nap)
            sleeper.start()
            for _ in range(3):
                never.wait(0.5)
            sleeper.join()
    """)
    outcome = run("probe")
    assert outcome.finished, outcome
    assert [w.what for w in outcome.trace.timed_waits] == ["wait", "wait", "wait", "sleep"]
    assert [w.at for w in outcome.trace.timed_waits] == pytest.approx([0.5, 1.0, 1.5, 4.7])
