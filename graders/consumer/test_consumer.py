"""Hidden checks for `consumer`: the consumer loop of a JoinableQueue.

The grader is the producer (probe.py): it starts consumer processes running
the student's consume(q, handle) with its own queue and handle(). They log
every step of each consumer, and hold it inside handle() until the lockstep
scheduler releases it, so the trace shows whether q.join() returned while a
handle() call was still running. While the producer is "busy" it holds
itself (hold_while_busy) until every consumer is idle, and a consumer waiting
with a timeout has seen it run out: a consumer that quits on an empty queue
quits on every run, under every start method.
"""
import shutil
import tempfile

from hypothesis import example, given, settings, strategies as st

from graders.consumer.replay import EMPTY, TIMED, Replay
from graders.engine.checks import CheckFailure, check

FEED = "graders.consumer.probe:feed"
BUSY = ("kit:busy", "kit:joined")  # the producer pauses with nothing new on the queue
FALSY = [0, "", [], False]


def hold_while_busy(held, trace):
    """Keep a busy producer held until every consumer waits on the empty queue.

    A consumer waits once it is neither held here nor inside a get with a
    timeout. One whose get raised Empty since the producer became busy, or
    that went on polling after an Empty before, has shown what it does when
    the queue stays empty: a consumer that quits on a timeout quits at its
    first one, and one that polls is not made to wait out its timeout again.
    """
    busy = next((a for a in held if a.stage in BUSY), None)
    if busy is None:
        return held
    others = [a for a in held if a is not busy]
    held_pids = {a.pid for a in others}
    last, emptied, pollers = {}, set(), set()
    for a in trace.arrivals:
        if a.stage.startswith(("q.", "handle:")):
            if a.stage == TIMED and last.get(a.pid) == EMPTY:
                pollers.add(a.pid)
            last[a.pid] = a.stage
            if a.stage == EMPTY and a.seq > busy.seq:
                emptied.add(a.pid)
    waiting = [pid for pid, stage in last.items()
               if pid not in emptied | pollers and (pid in held_pids or stage == TIMED)]
    return others if waiting else held


def describe(consumers, bursts, first="consumers", slow=False, burnt=()):
    """The workload in words, for the failing case."""
    puts = []
    for n, burst in enumerate(bursts):
        items = ", ".join(map(repr, burst)) or "nothing"
        if n == 0:
            when = "before starting the consumers" if first == "producer" else "once the consumers wait"
            puts.append(f"puts {items} {when}")
        else:
            puts.append(f"after a pause with nothing new on the queue, puts {items}")
    text = f"{consumers} consumer{'s' * (consumers != 1)}; the producer " + "; then, ".join(puts)
    if slow:
        text += " (one item at a time)"
    text += "; then pauses before sending the STOPs"
    if burnt:
        text += "; handle() raises " + ", ".join(f"{kind} for {item}" for item, kind in burnt.items())
    return text


def feed(student, check, consumers, bursts, first="consumers", slow=False, burnt=()):
    """Run the grader's producer against the student's consume(); the run's Replay.

    Raises a CheckFailure naming the first mistake the run shows against `check`'s property (its
    ID): a mistake another check judges is told by that check alone.
    """
    burnt = {repr(b): kind for b, kind in (burnt.items() if isinstance(burnt, dict) else
                                           ((b, "ValueError") for b in burnt))}
    log_dir = tempfile.mkdtemp(prefix="kit-consumer-")
    try:
        outcome = student.run(FEED, choose=hold_while_busy, log_dir=log_dir, consumers=consumers, bursts=bursts,
                              first=first, slow=slow, burnt=burnt)
        items = [item for burst in bursts for item in burst]
        replay = Replay(outcome, log_dir, consumers, items, burnt)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    case = describe(consumers, bursts, first, slow, burnt)
    replay.verdict(student, f"{consumers} consumer(s) running consume(q, handle)", case=case, check=check)
    return replay


@check("items such as 0, '' and False are handled, not taken for STOP")
def test_eats_falsy_items(student):
    feed(student, "eats_falsy_items", consumers=1, bursts=[FALSY])


@st.composite
def workloads(draw):
    """A producer's plan: items in bursts, one at a time or not, before or after the consumers start."""
    pool = st.one_of(st.integers(0, 40), st.sampled_from(["", "bun", "0", [], [0], False, True]))
    items = draw(st.lists(pool, min_size=1, max_size=5, unique_by=repr))
    cuts = draw(st.sets(st.integers(1, len(items) - 1), max_size=2)) if len(items) > 1 else set()
    edges = [0, *sorted(cuts), len(items)]
    return {"consumers": draw(st.integers(1, 3)), "bursts": [items[a:b] for a, b in zip(edges, edges[1:])],
            "first": draw(st.sampled_from(["consumers", "producer"])), "slow": draw(st.booleans())}


@check("every item is handled exactly once, however the producer puts them", every_start_method=False)
@settings(max_examples=min(5, settings().max_examples))  # the kit's profile, within the time budget
@given(workload=workloads())
@example(workload={"consumers": 2, "bursts": [[1, 0], ["", 2]], "first": "consumers", "slow": False})
def test_handles_every_item_once(student, workload):
    feed(student, "handles_every_item_once", **workload)


@check("q.join() returns only after every handle() call has finished", every_start_method=False)
def test_join_waits_for_handle(student):
    feed(student, "join_waits_for_handle", consumers=2, bursts=[[1, 2, 3]])


@check("every item is marked done exactly once", every_start_method=False)
def test_marks_each_item_done_once(student):
    feed(student, "marks_each_item_done_once", consumers=1, bursts=[[1, 2], [3]])


@check("each consumer marks its STOP done and returns, so the second q.join() returns")
def test_stop_ends_consumers(student):
    feed(student, "stop_ends_consumers", consumers=2, bursts=[[1, 2]])


# Several kinds of error, none of them ValueError: `except ValueError:` survives none, and only
# `except Exception:` survives them all. Unprintable's str() itself raises: a consumer that writes
# the error with str() (print(error), f"{error}") dies of it; repr(error) and traceback do not.
BURNT = {"burnt bun 17": "KeyError", "burnt bun 42": "RuntimeError", "burnt bun 5": "BurntBun",
         "burnt bun 8": "Unprintable"}


@check("an error in handle() is written to stderr naming the item, and the consumer goes on")
def test_survives_failing_handle(student):
    burnt = list(BURNT)
    replay = feed(student, "survives_failing_handle", consumers=1,
                  bursts=[[burnt[0], 1, burnt[1], burnt[2], 2, burnt[3], 3]], burnt=BURNT)
    stderr, written = replay.outcome.stderr, replay.stderr_tail()
    for item in burnt:
        if item not in stderr:
            on_stdout = item in replay.outcome.stdout
            raise CheckFailure(
                f"handle({item!r}) raised {BURNT[item]}, but what the consumer wrote to stderr does not name "
                f"{item!r}" + (": it wrote the error to stdout" if on_stdout else ""),
                expected=f"a line on stderr naming {item!r}, such as: handle({item!r}) failed: {BURNT[item]}(...)",
                got=("a line naming it on stdout, none on stderr" if on_stdout else
                     "stderr without the item" if written else "nothing on stderr"), details=written,
                hint="print() writes to stdout unless told otherwise: print(..., file=sys.stderr)." if on_stdout
                else "In the `except Exception as error:` block, print the item and the error to sys.stderr: "
                     "print(f\"handle({item!r}) failed: {error!r}\", file=sys.stderr).")


@check("consumers wait for a slow producer: an empty queue or a get that times out is not the end")
def test_waits_for_slow_producer(student):
    feed(student, "waits_for_slow_producer", consumers=2, bursts=[[1], [2, 3]])
