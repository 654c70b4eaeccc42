"""What the report teaches: pickling failures get their hint, threads of one process are told
apart, a crash is told first, one mistake is told once, and quick mode holds the pool stub to the same standard."""
import re

import pytest

from graders.engine import crashlog
from graders.engine import manifest
from graders.engine.checks import PICKLING_HINT, CheckFailure, Student, hang_details, pickling_hint
from graders.engine.grading import grade
from graders.engine.report import FORK_ONLY, failure_text, render
from graders.engine.results import CheckResult, ExerciseResult, Failure, GradeResult, Run
from graders.engine.crashlog import Crash
from graders.engine.run import Hang, Outcome
from graders.devtools import bank
from deadlocks import OPPOSITE_ORDERS, line_of  # two threads that take two locks in opposite orders


def student():
    return Student(exercise=None, submission="", lib="", start_method="forkserver")


# ---- pickling failures ----

@pytest.mark.parametrize("error", [
    "AttributeError: Can't pickle local object 'collect.<locals>.task'",
    "AttributeError: Can't get local object 'rush.<locals>.<lambda>'",
    "_pickle.PicklingError: Can't pickle <function <lambda> at 0x7f>: attribute lookup <lambda> on rush failed",
    "PicklingError: Can't pickle <function work at 0x7f>: it's not the same object as prog.work",
    "AttributeError: '<lambda>' object has no attribute",
    "AttributeError: Can't get attribute 'user' on <module '__mp_main__' from 'rush.py'>",
])
def test_pickling_errors_get_the_pickling_hint(error):
    assert pickling_hint(error) == PICKLING_HINT


def test_an_object_that_never_pickles_is_named():
    hint = pickling_hint("TypeError: cannot pickle '_thread.lock' object")
    assert hint.startswith(PICKLING_HINT) and "'_thread.lock' object cannot be pickled at all" in hint


@pytest.mark.parametrize("error", [
    "ZeroDivisionError: division by zero",
    'Traceback (most recent call last):\n  File "rush.py", line 3, in <lambda>\nValueError: bad',
    "AttributeError: 'NoneType' object has no attribute 'put'",
])
def test_other_errors_get_no_pickling_hint(error):
    assert pickling_hint(error) is None


def test_a_lambda_process_target_crashes_with_the_pickling_hint(program):
    outcome = program("""
        import multiprocessing

        def probe(student, pause):
            p = multiprocessing.Process(target=lambda: None)
            p.start()
            p.join()
    """, start_method="forkserver")("probe")
    with pytest.raises(CheckFailure) as raised:
        student().finished(outcome, "probe()")
    failure = raised.value.failure
    assert failure.kind == "crash" and "pickle" in failure.summary
    assert failure.hint == PICKLING_HINT


def test_a_child_that_died_of_pickling_gives_the_hint_from_stderr():
    stderr = ("Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n"
              "AttributeError: Can't get attribute 'worker' on <module '__mp_main__'>")
    for outcome in (Outcome(error={"type": "EOFError", "message": "", "frames": []}, stderr=stderr),
                    Outcome(exit_code=-9, stderr=stderr),
                    Outcome(hang=Hang(reason="stuck", waited=2.1), stderr=stderr)):
        with pytest.raises(CheckFailure) as raised:
            student().finished(outcome, "run()", hang_hint="another hint")
        assert raised.value.failure.hint == PICKLING_HINT, outcome
        assert "AttributeError: Can't get attribute" in "\n".join(raised.value.failure.details)


# ---- threads of one process ----

def test_each_stuck_thread_of_a_process_is_told_as_a_thread_of_it(program):
    outcome = program(OPPOSITE_ORDERS)("probe")
    assert outcome.hang is not None and outcome.hang.deadlocks
    (pid,) = outcome.hang.stacks
    stuck = [line for line in hang_details(outcome) if " is stuck at " in line]
    at = lambda marker: f"prog.py:{line_of(OPPOSITE_ORDERS, marker)} in "
    assert sorted(stuck) == sorted([
        f"one of process {pid} is stuck at {at('# one wants B')}one: with lock_B:  # one wants B",
        f"two of process {pid} is stuck at {at('# two wants A')}two: with lock_A:  # two wants A",
        f"a thread of process {pid} is stuck at {at('t.join()')}probe: t.join()"])


def test_a_process_with_one_stuck_thread_is_told_as_the_process():
    hang = Hang(reason="stuck", waited=2.0, stacks={7: [["prog.py:3 in f: q.get()"]],
                                                   8: [["prog.py:9 in g: a.acquire()"], ["prog.py:9 in g: a.acquire()"]]},
                lock_waits=["Thread-1 waits for a (prog.py:9), which Thread-3 holds (prog.py:2)",
                            "Thread-2 waits for a (prog.py:9), which Thread-3 holds (prog.py:2)"])
    assert [line for line in hang_details(Outcome(hang=hang)) if "stuck" in line] == [
        "process 7 is stuck at prog.py:3 in f: q.get()",
        "a thread of process 8 is stuck at prog.py:9 in g: a.acquire()",  # two threads wait there: no names
        "a thread of process 8 is stuck at prog.py:9 in g: a.acquire()"]


# ---- the report ----

CYCLE = ("{a} holds lock_A (shop.py:40) and waits for lock_B (shop.py:42); "
         "{b} holds lock_B (shop.py:48) and waits for lock_A (shop.py:50)")


def deadlock(first, second, pid):
    summary = "run(workers=2, rounds=1) never finished, because of a deadlock: " + CYCLE.format(a=first, b=second)
    return Failure(kind="hang", summary=summary, case="2 workers, 1 round", hint="Take the locks in one order.",
                   details=[f"{first} of process {pid} is stuck at shop.py:42 in f1: with lock_B:"])


def check_of(*runs, name="no_deadlock", title="workers never deadlock"):
    return CheckResult(name=name, title=title, weight=1, runs=list(runs))


def report(*checks):
    result = GradeResult(exercises=[ExerciseResult(name="rlock", title="t", checks=list(checks))],
                         start_methods=["fork", "spawn", "forkserver"])
    return render(result, colour=False, unicode=True)


def test_the_same_deadlock_with_the_threads_in_other_roles_is_told_once():
    check = check_of(Run("fork", False, 1.0, deadlock("Thread-1", "Thread-2", 11)),
                     Run("spawn", False, 1.0, deadlock("Thread-2", "Thread-1", 12)),
                     Run("forkserver", False, 1.0, deadlock("Thread-1", "Thread-2", 13)))
    text = failure_text(check)
    assert text.count("because of a deadlock") == 1
    assert text.startswith("under fork, spawn and forkserver: ")
    assert "process 11" in text and "process 12" not in text  # the first one's details
    assert text.count("hint: ") == 1


def test_different_deadlocks_stay_apart():
    other = deadlock("Thread-1", "Thread-2", 12)
    other.summary = other.summary.replace("shop.py:50", "shop.py:51")
    check = check_of(Run("fork", False, 1.0, deadlock("Thread-1", "Thread-2", 11)), Run("spawn", False, 1.0, other))
    assert failure_text(check).count("because of a deadlock") == 2


def test_hangs_that_waited_different_times_are_told_once():
    stuck = "run() never finished: after {} s every thread of the program was waiting for something"
    check = check_of(*(Run(m, False, 1.0, Failure(kind="hang", summary=stuck.format(s)))
                       for m, s in (("fork", 2.04), ("spawn", 2.61), ("forkserver", 3))))
    assert failure_text(check).splitlines() == ["under fork, spawn and forkserver: " + stuck.format(2.04)]


def test_a_failure_repeated_under_later_checks_takes_one_line_there():
    same = Failure(kind="wrong", summary="a consumer took STOP but never marked it done", expected="task_done()",
                   got="returned", case="2 consumers", hint="Mark STOP done.", details=["consumer 1 did: get()"])
    later = Failure(**{**vars(same), "case": "1 consumer"})
    other = Failure(kind="crash", summary="a consumer died", hint="Catch it.")
    checks = [check_of(Run("forkserver", False, 1.0, same), name="a", title="first check"),
              check_of(Run("forkserver", False, 1.0, other), name="b", title="second check"),
              check_of(Run("fork", False, 1.0, later), Run("spawn", False, 1.0, later), name="c", title="third check")]
    text = report(*checks)
    assert text.count("Mark STOP done.") == 1 and text.count("Catch it.") == 1
    assert '      under fork and spawn: the same mistake as in "first check" above' in text.splitlines()
    assert text.count("a consumer took STOP but never marked it done") == 1
    assert "failing case: 1 consumer" not in text
    # Each check's own feedback (results files) still tells it in full.
    assert "hint: Mark STOP done." in failure_text(checks[2])


# ---- the note when a check passes under fork only ----

def fork_only(failure):
    return check_of(Run("fork", True, 1.0), Run("spawn", False, 1.0, failure),
                    Run("forkserver", False, 1.0, failure))


def note(check):
    (line,) = [line for line in failure_text(check).splitlines() if line.startswith(FORK_ONLY)]
    return line


def test_the_fork_only_note_names_pickling_when_the_failure_shows_it():
    crash = Failure(kind="crash", summary="rush() raised AttributeError: Can't pickle local object "
                                          "'rush.<locals>.<lambda>'", hint=PICKLING_HINT)
    text = note(fork_only(crash))
    assert "pickle" in text and "module level" not in text


def test_the_fork_only_note_names_shared_state_when_the_program_ran_without_pickling_errors():
    wrong = Failure(kind="wrong", summary="3 buyers were inside buy() at the same time")
    text = note(fork_only(wrong))
    assert "state made at module level, such as a Lock" in text and "pickled" not in text


def test_the_fork_only_note_names_both_causes_when_the_failure_does_not_say():
    crash = Failure(kind="crash", summary="rush() raised NameError: name 'q' is not defined")
    text = note(fork_only(crash))
    assert "cannot be pickled" in text and "state made at module level" in text


# ---- quick mode is as strict as the full grade for the pool stub ----

def test_quick_mode_catches_a_pool_that_runs_one_task_at_a_time(tmp_path):
    exercise = manifest.load()["pool"]
    variant = next(v for v in bank.load("pool") if v.name == "get_after_each_submit")
    path = tmp_path / exercise.stub
    path.write_text(variant.source(exercise))
    result = grade([exercise], sources={"pool": path}, methods=["forkserver"], quick=True,
                   checks=["collects_any_workload"])
    (check,) = result.exercises[0].checks
    assert not check.passed
    assert re.search(r"only 1 task was running at a time; expected [23]", check.runs[0].failure.summary)


def test_the_same_hang_under_another_call_is_told_in_two_lines():
    def hang(call, pid):
        return Failure(kind="hang", summary=f"{call} never returned: the pool was terminated", case=call,
                       expected="every result collected", got="terminate() ran", hint="Collect inside the block.",
                       details=[f"process {pid} is stuck at collect.py:32 in collect: return [r.get() for r in p]",
                                "    called from collect.py:32 in collect: return [r.get() for r in p]"])
    other = Failure(kind="hang", summary="collect(func, [1], processes=1) never returned", hint="Another hint.",
                    details=["process 9 is stuck at collect.py:40 in collect: q.get()"])
    checks = [check_of(Run("forkserver", False, 1.0, hang("collect(func, [0, 1], processes=2)", 7)), name="a"),
              check_of(Run("forkserver", False, 1.0, hang("collect(func, [5], processes=1)", 8)), name="b"),
              check_of(Run("forkserver", False, 1.0, other), name="c")]
    lines = [line.strip() for line in report(*checks).splitlines()]
    assert "under forkserver: collect(func, [5], processes=1) never returned: the pool was terminated" in lines
    assert 'stuck at the same lines as in "workers never deadlock" above, for the same reason' in lines
    assert sum("Collect inside the block." in line for line in lines) == 1
    assert sum("is stuck at collect.py:32" in line for line in lines) == 1
    assert "process 9 is stuck at collect.py:40 in collect: q.get()" in lines  # a different hang: in full
    assert "hint: Another hint." in lines


# ---- a crash is told first ----

CRASHES = """
    import multiprocessing
    import threading

    def boom():
        raise ValueError("bad bun")  # boom line

    def caught():
        try:
            boom()
        except ValueError:
            pass

    def square(x):
        return 1 // x

    class Worker(multiprocessing.Process):
        def run(self):
            boom()

    def probe(student, pause, target):
        if target == "pool":
            with multiprocessing.Pool(1) as pool:
                try:
                    pool.map(square, [0])
                except ZeroDivisionError:
                    pass
            return "done"
        if target == "executor":
            from concurrent.futures import ProcessPoolExecutor
            with ProcessPoolExecutor(1) as pool:
                try:
                    pool.submit(square, 0).result()
                except ZeroDivisionError:
                    pass
            return "done"
        maker = threading.Thread if target == "thread" else multiprocessing.Process
        worker = maker(target=boom if target != "caught" else caught) if target != "subclass" else Worker()
        worker.start()
        worker.join()
        return "done"
"""


@pytest.mark.parametrize("target, kind", [("process", "process"), ("thread", "thread"), ("subclass", "process")])
def test_a_process_or_thread_that_died_of_an_exception_is_told_first(program, target, kind):
    outcome = program(CRASHES)("probe", target=target)
    assert outcome.value == "done" and len(outcome.crashes) == 1
    with pytest.raises(CheckFailure) as raised:
        student().finished(outcome, "probe()")
    failure = raised.value.failure
    line = line_of(CRASHES, "# boom line")
    assert failure.kind == "crash"
    assert failure.summary == (f"during probe(), a {kind} of your program died of an exception at prog.py:{line} "
                               "in boom: ValueError: bad bun")
    assert f"    prog.py:{line} in boom: raise ValueError(\"bad bun\")  # boom line" in failure.details


@pytest.mark.parametrize("target", ["caught", "pool", "executor"])
def test_an_exception_the_program_catches_is_no_crash(program, target):
    outcome = program(CRASHES)("probe", target=target)
    assert outcome.value == "done" and outcome.crashes == []
    assert student().finished(outcome, "probe()") == "done"


def test_a_crash_comes_before_the_hang_it_caused():
    hang = Hang(reason="stuck", waited=2.0, stacks={7: [["prog.py:9 in g: q.get()"]]})
    crash = Crash(kind="process", name="Process-1", pid=8, type="KeyError", message="'count'",
                  lines=["prog.py:3 in f: d['count']"])
    with pytest.raises(CheckFailure) as raised:
        student().finished(Outcome(hang=hang, crashes=[crash]), "run()", hang_hint="the hang's hint")
    failure = raised.value.failure
    assert failure.summary.startswith("during run(), a process of your program died of an exception at prog.py:3")
    assert "what followed: run() never finished: after 2 s every thread" in "\n".join(failure.details)
    assert "process 7 is stuck at prog.py:9 in g: q.get()" in failure.details
    assert failure.hint != "the hang's hint"


def test_a_forged_crash_file_is_ignored(tmp_path):
    (tmp_path / "crash-1-1.json").write_text('{"kind": "process", "name": 3}')
    (tmp_path / "crash-1-2.json").write_text("[" * 100_000)
    (tmp_path / "crash-1-3.json").symlink_to("/etc/passwd")
    assert crashlog.read(str(tmp_path), str(tmp_path)) == []


# ---- inline code in the terminal ----

def test_inline_code_shows_without_backticks_in_the_terminal_and_stays_in_results_files():
    failure = Failure(kind="wrong", summary="collect() started 1 worker, not exactly `processes` workers",
                      got="`odd` output", hint="Pass `processes` to `Pool()`.")
    check = check_of(Run("forkserver", False, 1.0, failure), title="the pool has exactly `processes` workers")
    plain = report(check)
    assert "\u2717 the pool has exactly \u2018processes\u2019 workers" in plain
    assert "not exactly \u2018processes\u2019 workers" in plain
    assert "hint: Pass \u2018processes\u2019 to \u2018Pool()\u2019." in plain
    assert "got:      `odd` output" in plain  # the program's own words stay as they were
    ascii_text = render(GradeResult(exercises=[ExerciseResult(name="pool", title="t", checks=[check])],
                                    start_methods=["forkserver"]), colour=False, unicode=False)
    assert "exactly 'processes' workers" in ascii_text
    coloured = render(GradeResult(exercises=[ExerciseResult(name="pool", title="t", checks=[check])],
                                  start_methods=["forkserver"]), colour=True)
    assert "exactly \033[1mprocesses\033[22m workers" in coloured  # bold keeps the line's red
    assert "exactly \033[36mprocesses\033[39m workers" in coloured  # the title is bold already
    assert "exactly `processes` workers" in failure_text(check)


def test_a_check_pinned_to_fork_in_quick_mode_is_told_apart_on_the_last_line():
    checks = [CheckResult(name="a", title="a", weight=1, runs=[Run("forkserver", True, 1.0)]),
              CheckResult(name="b", title="b", weight=1, runs=[Run("fork", True, 1.0)], pinned="fork")]
    result = GradeResult(exercises=[ExerciseResult(name="lock", title="t", checks=checks)], mode="quick",
                         start_methods=["fork", "forkserver"])
    last = render(result).splitlines()[-1]
    assert last.startswith("(quick mode, start methods: forkserver, and fork for a check that needs it; ")
    result.mode, result.start_methods = "full", ["fork", "spawn", "forkserver"]
    checks[0].runs += [Run("fork", True, 1.0), Run("spawn", True, 1.0)]
    assert render(result).splitlines()[-1].startswith("(full mode, start methods: fork, spawn, forkserver; ")


def test_a_call_given_bad_input_on_purpose_may_crash_its_processes():
    crash = Crash(kind="process", name="Process-1", pid=8, type="FileNotFoundError", message="missing.json")
    outcome = Outcome(value=[{"raised": None}], crashes=[crash])
    assert student().finished(outcome, "sell() with bad input", expect_crashes=True) == [{"raised": None}]
    with pytest.raises(CheckFailure):
        student().finished(outcome, "sell(db, 3)")


def test_other_crashes_of_a_run_take_a_line_each_up_to_a_few():
    crashes_seen = [Crash(kind="process", name=f"Process-{n}", pid=n, type="KeyError", message=str(n),
                          lines=[f"prog.py:{n} in f: d[{n}]"]) for n in range(1, 7)]
    with pytest.raises(CheckFailure) as raised:
        student().finished(Outcome(value=1, crashes=crashes_seen), "run()")
    details = raised.value.failure.details
    assert [d for d in details if "also died" in d] == [
        f"Process-{n} (process {n}) also died at prog.py:{n} in f: KeyError: {n}" for n in (2, 3, 4)]
    assert details[-1] == "and 2 more died of other exceptions"


def test_the_same_crash_with_another_message_under_another_call_is_told_once():
    def crash(call, path):
        return Failure(kind="crash", summary=f"during {call}, a process of your program died of an exception at "
                       f"tickets.py:44 in check_db: ValueError: {path} must hold a count", hint="Fix it first.",
                       details=["Process-1, process 7, died there; its traceback, your lines:"])
    checks = [check_of(Run("forkserver", False, 1.0, crash("sell(db, 3)", "/tmp/a/t.json")), name="a", title="A"),
              check_of(Run("forkserver", False, 1.0, crash("sell(db, 1)", "/tmp/b/t.json")), name="b", title="B")]
    lines = [line.strip() for line in report(*checks).splitlines()]
    assert 'under forkserver: the same mistake as in "A" above' in lines
    assert sum("Fix it first." in line for line in lines) == 1
