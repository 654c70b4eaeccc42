"""Hidden checks for `pool`: collect results without serialising .get().

The grader's func is a Task (probe.py) that calls pause("task:A") for its
argument A. The lockstep scheduler holds every task there until the whole
program is blocked, so the tasks that are in flight together are always seen
together: a collect() that waits for each result before sending the next task
has one task running at a time, on every run, and a correct one has as many as
it has workers. A `choose` policy releases the held tasks one at a time, in
reverse (or forward) order of their argument, so that tasks finish in an order
the grader picks.
"""

from hypothesis import example, given
from hypothesis import strategies as st

from graders.engine.checks import CheckFailure, check
from graders.pool.hints import CLOSE_HINT, ORDER_HINT, UNCLOSED, pool_pickling_hint
from graders.pool.probe import RETURNED
from graders.pool.runs import (
    EACH,
    LEAKS,
    Release,
    batches_of_each_call,
    call_text,
    expected,
    in_flight,
    most_together,
    plural,
    returned,
    run,
    run_collect,
    tasks_in,
    worker_pids,
)


@check("every task is in flight before any result is awaited")
def test_tasks_run_in_parallel(student):
    args, processes = [0, 1, 2, 3], 4
    call = call_text(args, processes)
    report, trace = run_collect(student, args, processes)
    returned(report, call, trace)
    in_flight(trace.batches, args, processes, call)
    _, batch = most_together(trace.batches)
    pids = {a.pid for a in tasks_in(batch)}
    if report["main_pid"] in pids or len(pids) < len(tasks_in(batch)):
        raise CheckFailure(
            "the tasks ran in threads of one process, not in worker processes",
            case=call, expected=f"{processes} worker processes, one task each",
            got=f"{len(tasks_in(batch))} tasks in {plural(len(pids), 'process', 'processes')}"
                + (", the one that called collect()" if report["main_pid"] in pids else ""),
            hint="Use multiprocessing.Pool (or concurrent.futures.ProcessPoolExecutor), not a ThreadPool.")


@check("the results come back in the order of args, whatever order the tasks finish in",
       every_start_method=False)
def test_results_in_order_of_args(student):
    args, processes = [0, 1, 2, 3, 4], 3
    call = call_text(args, processes)
    release = Release(highest_first=True)
    report, _ = run_collect(student, args, processes, choose=release)
    got = returned(report, call)
    if got == expected(args):
        return
    in_finishing_order = got == expected(release.finished)
    raise CheckFailure(
        "collect() returned the results in the order the tasks finished, not in the order of args"
        if in_finishing_order else "collect() did not return func(a) for every a in args, in order",
        case=f"{call}, with the tasks finishing in the order {release.finished}",
        expected=expected(args), got=str(got)[:300],
        hint="Results taken as the tasks finish (imap_unordered, as_completed, a callback) come in finishing "
             "order. Keep the AsyncResults in a list in the order of args and .get() each one, or use "
             "pool.imap or executor.map, which keep the order of args."
        if in_finishing_order else None)


# func(1), func(2) and func(3) fail, each its own way: the first failing call in args order, the one
# that finishes first (or last) in time, and the last in args order are then different calls, so the
# exception raised says which rule the program follows.
FAILURES = {"1": "TaskError", "2": "ValueError", "3": "TaskError"}
FIRST_ERROR = "TaskError: task 1 failed"
IN_ARGS_ORDER = ("Get the results in the order of args (.get() on each AsyncResult in turn, pool.imap, or "
                 "executor.map) and let the first exception propagate: that is the first failing call's.")


@check("the first failing call's exception is raised, with its own type", every_start_method=False)
def test_raises_first_error(student):
    args, processes = [0, 1, 2, 3, 4], 3
    call = call_text(args, processes)
    # func(0), func(1) and func(2) are in flight together. Let go highest first, the calls finish in
    # the order 2, 3, 4, 1, 0: func(2) fails first in time, so a program that raises the error that
    # comes first (Pool.map, as_completed, callbacks) shows it on every run. Let go lowest first, they
    # finish in the order of args, and func(3) fails last in time.
    for highest_first in (True, False):
        release = Release(highest_first=highest_first)
        report, _ = run_collect(student, args, processes, choose=release, failures=FAILURES)
        case = (f"{call}, where func(1) and func(3) raise TaskError and func(2) raises ValueError, and the "
                f"calls finish in the order {release.finished}")
        _raised_first_error(report, case, [a for a in release.finished if str(a) in FAILURES])


def _raised_first_error(report, case, failed_in_time):
    if "raised" not in report:
        raise CheckFailure("collect() returned although some calls raised: the error was swallowed",
                           case=case, expected=f"collect() raises {FIRST_ERROR}",
                           got=f"returned {report['returned']!r}"[:300],
                           hint="Let the exception of .get() propagate: do not catch it, or re-raise it.")
    raised = report["raised"]
    got = f"{raised['type']}: {raised['message']}"
    if got == FIRST_ERROR:
        return
    pickled = pool_pickling_hint(got)
    if pickled:
        raise CheckFailure(f"collect() raised {raised['type']}: a task could not be pickled to be sent to a "
                           "worker, so no call of func ran", case=case, expected=FIRST_ERROR, got=got, kind="crash",
                           hint=pickled)
    which = next((int(a) for a in FAILURES if got == f"{FAILURES[a]}: task {a} failed"), None)
    if which is not None and which == failed_in_time[0]:
        raise CheckFailure(f"collect() raised the exception of func({which}), the failing call that finished "
                           "first, but func(1) is the first failing call in args order", case=case,
                           expected=FIRST_ERROR, got=got,
                           hint="pool.map, as_completed() and callbacks raise the error that comes first in time. "
                                + IN_ARGS_ORDER)
    if which is not None and which == failed_in_time[-1]:
        raise CheckFailure(f"collect() raised the exception of func({which}), the failing call that finished "
                           "last, but func(1) is the first failing call in args order", case=case,
                           expected=FIRST_ERROR, got=got,
                           hint="An error kept as the calls finish (in a callback, or from as_completed()) and "
                                "raised at the end is the one that came last in time. " + IN_ARGS_ORDER)
    if which is not None and which == max(map(int, FAILURES)):
        raise CheckFailure(f"collect() raised the exception of func({which}), the last failing call in args order, "
                           "but when several calls fail, the first one's is raised: func(1)'s", case=case,
                           expected=FIRST_ERROR, got=got,
                           hint="Each exception caught and kept replaces the one before it, so the last one is "
                                "raised. " + IN_ARGS_ORDER)
    if which is not None:
        raise CheckFailure(f"collect() raised the exception of func({which}), but func(1) is the first failing "
                           "call in args order", case=case, expected=FIRST_ERROR, got=got, hint=IN_ARGS_ORDER)
    if raised["message"] == "task 1 failed" or "TaskError" not in raised["types"]:
        summary = f"collect() raised {raised['type']} instead of the TaskError that func(1) raised"
    else:
        summary = "collect() raised a TaskError other than the one func(1) raised"
    raise CheckFailure(summary, case=case, expected=FIRST_ERROR, got=got,
                       hint=".get() re-raises the task's own exception: let it propagate unchanged, and "
                            "get the results in the order of args so the first failing call comes first.")


@check("collect() closes and joins its pool, when it returns and when it raises")
def test_leaves_no_worker(student):
    args, processes = [0, 1, 2], 2
    failures = {"1": "ValueError"}
    reports, trace = run(student, LEAKS, call_text(args, processes), args=args, processes=processes,
                         failures=failures)
    for path, report in reports.items():
        case = call_text(args, processes) + (", where func(1) raises ValueError" if path == "raised" else "")
        if path not in report:
            continue  # returning versus raising is another check's business
        left = left_behind(trace, f"{RETURNED}:{path}")
        if left:
            # What the program says of its pools only words the failure; the processes the grader
            # saw alive decide it.
            raise unjoined_failure(report, path, case) or CheckFailure(
                f"{plural(len(left), 'worker process', 'worker processes')} "
                f"{'was' if len(left) == 1 else 'were'} left behind after collect() {path}"
                + (f": the pool was never closed ({UNCLOSED})" if report.get("unclosed") else ""),
                case=case, expected="every worker ended and joined",
                got=f"{len(left)} still running, or ended but never joined", hint=CLOSE_HINT)
        failure = unjoined_failure(report, path, case)
        if failure:  # under forkserver the server reaped them: the program's own pools say it
            raise failure


JOIN_HINT = ("close() only tells the workers to stop once the tasks are done; join() waits for them to end. "
             "Call pool.join() after pool.close(), in the same finally: block, or use `with Pool(...) as pool:` "
             "and collect every result inside it.")


def unjoined_failure(report, path, case) -> CheckFailure | None:
    """A pool closed but never joined, as the program's own pools tell it: the same words under every
    start method, whether its ended workers stayed (fork, spawn) or the forkserver reaped them. It
    can only fail a run."""
    unjoined = report.get("unjoined")
    if type(unjoined) is not int or unjoined < 1 or report.get("unclosed"):
        return None
    return CheckFailure(
        f"collect() {path} without joining its pool: it called close() but never join(), so its workers "
        "were left behind", case=case, expected="every worker ended and joined",
        got=f"{plural(unjoined, 'worker process', 'worker processes')} never joined", hint=JOIN_HINT)


def left_behind(trace, marker) -> list[int]:
    """The processes alive, besides the one that called collect(), when the grader saw `marker`."""
    batch = trace.batch_of(marker)
    if batch is None:
        return []
    main = {a.pid for a in batch.at(marker)}
    return sorted(batch.alive - main)


@check("the pool has exactly `processes` workers", every_start_method=False)
def test_uses_processes_workers(student):
    cases = [{"args": [0, 1, 2], "processes": 1}, {"args": [0, 1, 2, 3, 4], "processes": 3}]
    reports, trace = run(student, EACH, "collect() with processes=1, then 3", cases=cases)
    for case, report, batches in zip(cases, reports, batches_of_each_call(trace, len(cases))):
        call = call_text(case["args"], case["processes"])
        returned(report, call)
        in_flight(batches, case["args"], case["processes"], call)


@check("empty args give [], and fewer tasks than workers work", every_start_method=False)
def test_handles_edge_cases(student):
    cases = [{"args": [], "processes": 2}, {"args": [7], "processes": 4}, {"args": [2, 0, 1], "processes": 1}]
    reports, _ = run(student, EACH, "collect() on small cases", cases=cases)
    for case, report in zip(cases, reports):
        call = call_text(case["args"], case["processes"])
        got = returned(report, call)
        if got != expected(case["args"]):
            raise CheckFailure(f"{call} returned the wrong results", case=call,
                               expected=expected(case["args"]), got=str(got)[:300], hint=ORDER_HINT)


@check("a `processes` that is not a positive int gives ValueError", every_start_method=False)
def test_rejects_bad_processes(student):
    bad = [0, -1, 2.5, "4", None]
    cases = [{"args": [1, 2], "processes": p} for p in bad]
    reports, trace = run(student, EACH, "collect() with a bad processes", cases=cases)
    for case, report in zip(cases, reports):
        call = call_text(case["args"], case["processes"])
        raised = report.get("raised")
        if raised is None or "ValueError" not in raised["types"]:
            raise CheckFailure(
                f"{call} should raise ValueError", case=call, expected="ValueError",
                got=f"{raised['type']}: {raised['message']}" if raised else f"returned {report['returned']!r}",
                hint="Check `processes` at the top of collect(), before making the pool: "
                     "type(processes) is not int or processes < 1.")
    if worker_pids(trace):
        raise CheckFailure("collect() ran tasks before it found that `processes` was bad",
                           hint="Check `processes` before making the pool.")


@check("any list of arguments on any pool size: all results, in order, all workers busy",
       every_start_method=False)
@given(args=st.lists(st.integers(0, 99), max_size=6), processes=st.integers(1, 3))
@example(args=[5, 3, 8, 1], processes=3)  # several workers busy at once, in quick mode too
def test_collects_any_workload(student, args, processes):
    call = call_text(args, processes)
    release = Release(highest_first=True)
    report, trace = run_collect(student, args, processes, choose=release)
    got = returned(report, call)
    if got != expected(args):
        raise CheckFailure(f"{call} returned the wrong results", case=f"{call}, with the tasks finishing in "
                           f"the order {release.finished}", expected=expected(args), got=str(got)[:300],
                           hint=ORDER_HINT)
    in_flight(trace.batches, args, processes, call)
    left = left_behind(trace, RETURNED)
    unjoined = unjoined_failure(report, "returned", call)
    if unjoined:
        raise unjoined
    if left:
        raise CheckFailure(f"collect() returned with {plural(len(left), 'worker process', 'worker processes')} "
                           "of its pool still there" + (f" ({UNCLOSED})" if report.get("unclosed") else ""),
                           case=call, expected="the pool closed and joined", got=f"{len(left)} still there",
                           hint=CLOSE_HINT)
