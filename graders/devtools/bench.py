"""`python -m graders.devtools.bench`: how fast the kit reaches a verdict, measured on
this machine, written as a Markdown table and a JSON file.

Figures are medians of several runs with their spread (min to max). They are
reported, never asserted: timings on shared machines are noisy.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from graders.engine.files import write_whole
from graders.engine import manifest
from graders.classroom.batch import Batch
from graders.engine.checks import MAX_TIMEOUTS
from graders.engine.grading import PROCESSES as GRADING_PROCESSES, grade
from graders.engine.settings import START_METHODS
from graders.engine.manifest import KIT
from graders.engine.results import NOT_RUN
from graders.engine.run import run_probe

HELP_OUT = "folder for report.md and report.json (default: .kit/bench)"
HELP_REPEAT = "runs per figure (default: 3)"
HELP_EXERCISES = "exercises to measure (default: all)"
HELP_CORES = "comma-separated numbers of cores for the batch figures (default: 1,2,all)"
HELP_SIZES = "comma-separated batch sizes, in submissions (default: 2,4,8)"
HELP_SECTIONS = ("comma-separated sections to run (default: all but stability): "
                 "solutions,wrong,hang,timeouts,blocked,floor,batch,shards,together,watch,stability")
HELP_SHARDS = "the shards section: a class of STUDENTS graded as N shards one after another (default: 16/4)"
HELP_STABILITY = "grades per submission for the stability section (default: 20)"
SECTIONS = ("solutions", "wrong", "hang", "timeouts", "blocked", "floor", "batch", "shards", "together", "watch",
            "stability")
FLOOR_PROCESSES = 3  # processes started by the floor program, like a typical check


def timed(action, repeat: int) -> dict:
    """Median and spread of `action()`'s wall time over `repeat` runs, and its last value."""
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = action()
        times.append(time.perf_counter() - started)
    return {"median": round(statistics.median(times), 3), "min": round(min(times), 3),
            "max": round(max(times), 3), "runs": len(times), "value": value}


def solutions(exercises, repeat) -> list[dict]:
    rows = []
    for e in exercises:
        source = {e.name: e.solution_dir / e.stub}
        modes = [(m, [m], False) for m in START_METHODS] + [("full", list(START_METHODS), False),
                                                            ("quick", ["forkserver"], True)]
        for label, methods, quick in modes:
            t = timed(lambda: grade([e], sources=source, methods=methods, quick=quick).passed, repeat)
            rows.append({"exercise": e.name, "mode": label, **t})
    return rows


def wrong(exercises, repeat) -> list[dict]:
    rows = []
    for e in exercises:
        for label, methods, quick in [("full", list(START_METHODS), False), ("quick", ["forkserver"], True)]:
            t = timed(lambda: grade([e], methods=methods, quick=quick).passed, repeat)
            rows.append({"exercise": e.name, "mode": label, **t})
    return rows


HANGS = {
    "busy loop (deadline)": "def probe(student, pause):\n    while True:\n        pass\n",
    "deadlock (stuck)": ("import threading\n\ndef probe(student, pause):\n"
                         "    lock = threading.Lock()\n    lock.acquire()\n    lock.acquire()\n"),
}


def hang(repeat, deadline=3.0) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        student, lib = _student_folder(Path(folder))
        for label, source in HANGS.items():
            (student / "prog.py").write_text(source)
            t = timed(lambda: run_probe(probe="prog:probe", module="prog", submission=str(student), lib=str(lib),
                                        params={}, start_method="forkserver", deadline=deadline).hang.reason,
                      repeat)
            rows.append({"submission": label, "deadline": deadline, **t,
                         "after_deadline": round(t["max"] - deadline, 3)})
    return rows


# The consumer solution with every get() given a 10 s timeout, retried on Empty: right, and
# in real time each idle consumer would wait 10 s a time. The time model makes it cost nothing.
TEN_SECOND_GETS = ("""        item = q.get()""", """        try:
            item = q.get(timeout=10)
        except Exception:  # queue.Empty: the producer is slow, not finished
            continue""")


def timeouts(repeat) -> list[dict]:
    """A submission whose every get() waits up to 10 s, against the reference, both in full mode."""
    known = manifest.load()
    if "consumer" not in known:
        return []
    exercise = known["consumer"]
    reference = (exercise.solution_dir / exercise.stub).read_text()
    old, new = TEN_SECOND_GETS
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        timed_gets = Path(folder) / exercise.stub
        timed_gets.write_text(reference.replace(old, new))
        for label, path in (("the reference solution", exercise.solution_dir / exercise.stub),
                            ("every get() with a 10 s timeout", timed_gets)):
            t = timed(lambda: grade([exercise], sources={exercise.name: path}, methods=list(START_METHODS)).passed,
                      repeat)
            rows.append({"submission": label, **t})
    return rows


# Appended to a solution: every function of the module, once imported, blocks for ever on a
# lock it already holds, with no timer, so every run of every check is a stuck hang.
BLOCK_EVERY_CALL = textwrap.dedent("""

    import threading as _threading


    def _blocked(*args, **kwargs):
        lock = _threading.Lock()
        lock.acquire()
        lock.acquire()


    for _name, _value in list(globals().items()):
        if callable(_value) and getattr(_value, "__module__", None) == __name__ and _value is not _blocked:
            globals()[_name] = _blocked
""")


def blocking_source(exercise) -> str:
    """The exercise's solution with every one of its calls blocking: a stuck hang each time."""
    return (exercise.solution_dir / exercise.stub).read_text() + BLOCK_EVERY_CALL


def blocked(exercises, repeat) -> list[dict]:
    """A submission that blocks in every call, graded in full: what hangs cost, bounded by the
    time budget (each check's first hang is its verdict; a few hangs per grading process).
    "told as a hang" counts failures, so checks that share one run (rush's) count its hang each."""
    rows = []
    for e in exercises:
        with tempfile.TemporaryDirectory(prefix="kit-bench-") as folder:
            path = Path(folder) / e.stub
            path.write_text(blocking_source(e))
            t = timed(lambda: grade([e], sources={e.name: path}), repeat)
        failures = [r.failure for c in t.pop("value").exercises[0].checks for r in c.runs if not r.passed]
        hung = sum(f.kind == "hang" and not f.summary.startswith(NOT_RUN) for f in failures)
        rows.append({"exercise": e.name, **t, "runs": len(failures), "hung": hung,
                     "skipped": sum(f.summary.startswith(NOT_RUN) for f in failures),
                     "bound": GRADING_PROCESSES * MAX_TIMEOUTS})
    return rows


FLOOR_PROGRAM = textwrap.dedent(f"""
    import multiprocessing, sys

    def work(pause):
        pause("inside")

    def no_pause(stage):
        pass

    def probe(student, pause):
        ps = [multiprocessing.Process(target=work, args=(pause,)) for _ in range({FLOOR_PROCESSES})]
        for p in ps:
            p.start()
        for p in ps:
            p.join()

    if __name__ == "__main__":
        multiprocessing.set_start_method(sys.argv[1])
        probe(None, no_pause)
""")


def floor(repeat) -> list[dict]:
    """The bare cost of a run (a fresh interpreter starting and joining the processes)
    against the engine's run of the same program (scheduler, tree, cleanup)."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        student, lib = _student_folder(Path(folder))
        (student / "prog.py").write_text(FLOOR_PROGRAM)
        for method in START_METHODS:
            bare = timed(lambda: subprocess.run([sys.executable, str(student / "prog.py"), method],
                                                check=True).returncode, repeat)
            engine = timed(lambda: run_probe(probe="prog:probe", module="prog", submission=str(student),
                                             lib=str(lib), params={}, start_method=method,
                                             deadline=30).finished, repeat)
            rows.append({"start_method": method, "processes": FLOOR_PROCESSES, "bare": bare["median"],
                         "per_process": round(bare["median"] / (FLOOR_PROCESSES + 1), 3),
                         "engine": engine["median"], "engine_spread": [engine["min"], engine["max"]],
                         "overhead_ratio": round(engine["median"] / bare["median"], 2)})
    return rows


def batch(cores_list, sizes, exercise) -> list[dict]:
    """Submissions per minute of the real batch command, on 1, 2, ... cores.

    The bench pins itself, and so every process it starts, to the first
    `cores` cores, and grades a class of `size` copies of the solution with
    `cores` jobs.
    """
    rows = []
    everything = os.sched_getaffinity(0)
    try:
        for cores in cores_list:
            os.sched_setaffinity(0, sorted(everything)[:cores])
            for size in sizes:
                with tempfile.TemporaryDirectory(prefix="kit-bench-") as folder:
                    root, out = Path(folder) / "class", Path(folder) / "out"
                    for n in range(size):
                        (root / f"student{n:03}").mkdir(parents=True)
                        shutil.copyfile(exercise.solution_dir / exercise.stub,
                                        root / f"student{n:03}" / exercise.stub)
                    work = Batch(root=root, out=out, exercises=[exercise], methods=list(START_METHODS),
                                 jobs=cores, report=lambda line: None)
                    started = time.perf_counter()
                    counts = work.run()
                    seconds = time.perf_counter() - started
                    passed = (out / "gradebook.csv").read_text().count(",passed")
                rows.append({"cores": cores, "jobs": cores, "submissions": size, "seconds": round(seconds, 2),
                             "per_minute": round(60 * size / seconds, 1),
                             "all_passed": counts["graded"] == size and passed == size})
    finally:
        os.sched_setaffinity(0, everything)
    return rows


def shards(students: int, n: int, exercise, floor_rows: list[dict]) -> dict:
    """Each shard's throughput, one shard at a time on every core, and the merge after them.

    Each figure also comes as a ratio to the floor measured in the same run (one
    bare run under each start method, as a full grade runs each check under each):
    a figure that keeps its ratio held still while the machine was slower.
    """
    from graders.classroom.merging import merge

    floor_full = sum(r["bare"] for r in floor_rows)
    cores = len(os.sched_getaffinity(0))
    rows = []
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as folder:
        root = Path(folder) / "class"
        for i in range(students):
            (root / f"student{i:03}").mkdir(parents=True)
            shutil.copyfile(exercise.solution_dir / exercise.stub, root / f"student{i:03}" / exercise.stub)
        parts = []
        for k in range(1, n + 1):
            parts.append(Path(folder) / f"shard{k}")
            work = Batch(root=root, out=parts[-1], exercises=[exercise], methods=list(START_METHODS), jobs=cores,
                         shard=(k, n), report=lambda line: None)
            started = time.perf_counter()
            counts = work.run()
            seconds = time.perf_counter() - started
            per_student = seconds / max(1, counts["students"])
            rows.append({"shard": f"{k}/{n}", "students": counts["students"], "jobs": cores,
                         "seconds": round(seconds, 2), "per_minute": round(60 / per_student, 1),
                         "per_student": round(per_student, 2), "floor_ratio": round(per_student / floor_full, 1),
                         "all_graded": counts["graded"] == counts["students"]})
        started = time.perf_counter()
        merged = merge(parts, Path(folder) / "merged", report=lambda line: None)
        seconds = time.perf_counter() - started
        passed = (Path(folder) / "merged" / "gradebook.csv").read_text().count(",passed")
    graded = sum(r["students"] for r in rows)
    total = sum(r["seconds"] for r in rows)
    return {"students": students, "shards": n, "floor_full": round(floor_full, 3), "rows": rows,
            "per_minute": round(60 * graded / total, 1), "per_student": round(total / graded, 2),
            "floor_ratio": round(total / graded / floor_full, 1), "merge_seconds": round(seconds, 3),
            "merge_floor_ratio": round(seconds / floor_full, 2),
            "merged_all_passed": merged["students"] == students and passed == students}


def _floors(floor_rows: list[dict]) -> tuple[float, float]:
    """The floor of a full grade (one bare run under each start method) and of a quick one (forkserver)."""
    full = sum(r["bare"] for r in floor_rows)
    quick = next((r["bare"] for r in floor_rows if r["start_method"] == "forkserver"), full)
    return full, quick


def together(exercises, repeat, floor_rows: list[dict]) -> list[dict]:
    """The whole command that grades every solution at once, `grade --submission solutions`, full and quick,
    each as a ratio to the floor measured in the same run."""
    full_floor, quick_floor = _floors(floor_rows)
    names = [e.name for e in exercises]
    rows = []
    for mode, extra, base in (("full", [], full_floor), ("quick", ["--quick"], quick_floor)):
        command = [sys.executable, "-m", "graders", "grade", *names, "--submission", str(KIT / "solutions"), *extra]
        t = timed(lambda: subprocess.run(command, cwd=KIT, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL).returncode == 0, repeat)
        rows.append({"mode": mode, "exercises": names, **t, "floor": round(base, 3),
                     "floor_ratio": round(t["median"] / base, 1)})
    return rows


def watch(exercises, repeat, floor_rows: list[dict]) -> list[dict]:
    """Watch mode, warm: from a save of the file to the first check's verdict, and to the whole
    quick grade, as the watch command sees them (the file watcher included), each as a ratio to the
    floor of a forkserver run measured in the same run. The file saved changes a comment only."""
    _, quick_floor = _floors(floor_rows)
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as folder:
        return [_watch_one(e, Path(folder), repeat, quick_floor) for e in exercises]


def _watch_one(e, folder: Path, repeat: int, quick_floor: float) -> dict:
    from graders.cli.watch import _wait_for_change
    from graders.engine.live import LiveVerdicts
    from graders.engine.warm import WarmGrader

    path = folder / e.name / e.stub
    path.parent.mkdir()
    reference = (e.solution_dir / e.stub).read_text()
    path.write_text(reference)
    firsts, wholes, passed = [], [], True
    with WarmGrader([e], methods=["forkserver"], quick=True) as warm:
        warm.grade([e], sources={e.name: path}, methods=["forkserver"], quick=True)  # the grade before
        for n in range(repeat):
            text = reference + f"\n# save {n + 1}\n"
            saved = []

            def save():
                time.sleep(1.0)  # the student edits: the next grading's processes get ready meanwhile
                saved.append(time.perf_counter())
                path.write_text(text)
            # The watcher is waiting when the student saves, as in `watch`: it sees the save itself.
            editor = threading.Thread(target=save)
            editor.start()
            _wait_for_change(path, lambda: path.read_text() == text)
            editor.join()
            saved = saved[0]
            first = []
            told = LiveVerdicts(len(warm.slots), lambda text: first.append(time.perf_counter()))
            result = warm.grade([e], sources={e.name: path}, methods=["forkserver"], quick=True, events=told)
            wholes.append(time.perf_counter() - saved)
            firsts.append(first[0] - saved)
            passed = passed and result.passed
    return {"exercise": e.name, "first_verdict": round(statistics.median(firsts), 3),
            "first_spread": [round(min(firsts), 3), round(max(firsts), 3)],
            "whole": round(statistics.median(wholes), 3),
            "whole_spread": [round(min(wholes), 3), round(max(wholes), 3)], "floor": round(quick_floor, 3),
            "first_floor_ratio": round(statistics.median(firsts) / quick_floor, 1),
            "whole_floor_ratio": round(statistics.median(wholes) / quick_floor, 1), "passed": passed}


def stability(exercises, grades: int, workers: int) -> list[dict]:
    """Grade each stub and solution `grades` times, `workers` at once to load the
    machine, and count the distinct verdicts (which checks passed): 1 is the goal."""
    rows = []
    for e in exercises:
        for label, path in (("stub", e.exercise_dir / e.stub), ("solution", e.solution_dir / e.stub)):
            def verdict(_):
                result = grade([e], sources={e.name: path})
                return tuple(sorted((c.name, c.passed) for c in result.exercises[0].checks))
            with ThreadPoolExecutor(workers) as pool:
                verdicts = list(pool.map(verdict, range(grades)))
            rows.append({"exercise": e.name, "submission": label, "grades": grades,
                         "distinct_verdicts": len(set(verdicts)),
                         "checks_passed": sorted({sum(p for _, p in v) for v in verdicts})})
    return rows


def _student_folder(folder: Path):
    """A submission folder and a lib folder, laid out and readable as grade() stages them: a
    sandbox user that could not read them would get a copy of each on every run, which grading
    never pays."""
    folder.chmod(0o755)
    student, lib = folder / "student", folder / "lib"
    student.mkdir()
    lib.mkdir()
    (lib / "graders").symlink_to(KIT / "graders")
    return student, lib


def markdown(report: dict) -> str:
    out = [f"# Time to verdict\n\nMeasured {report['when']} on {report['machine']}; "
           f"medians of {report['repeat']} runs, spread min to max, in seconds.\n"]
    if "solutions" in report:
        out.append("## Grading each solution\n\n| exercise | mode | median | spread | passed |\n|---|---|---|---|---|")
        out += [f"| {r['exercise']} | {r['mode']} | {r['median']} | {r['min']} to {r['max']} | {r['value']} |"
                for r in report["solutions"]]
        totals = {}
        for r in report["solutions"]:
            totals[r["mode"]] = totals.get(r["mode"], 0) + r["median"]
        out.append("\nAll exercises together: " + ", ".join(f"{m} {t:.1f} s" for m, t in totals.items()) + ".\n")
    if "wrong" in report:
        out.append("## Grading each stub (a wrong submission)\n\n| exercise | mode | median | spread |\n|---|---|---|---|")
        out += [f"| {r['exercise']} | {r['mode']} | {r['median']} | {r['min']} to {r['max']} |" for r in report["wrong"]]
        out.append("")
    if "hang" in report:
        out.append("## Hung submissions (one run, forkserver)\n\n| submission | deadline | median | spread | "
                   "worst after the deadline |\n|---|---|---|---|---|")
        out += [f"| {r['submission']} | {r['deadline']} | {r['median']} | {r['min']} to {r['max']} | "
                f"{r['after_deadline']} |" for r in report["hang"]]
        out.append("")
    if report.get("timeouts"):
        out.append("## Timeouts cost no real time (consumer, full mode)\n\n"
                   "| submission | median | spread | passed |\n|---|---|---|---|")
        out += [f"| {r['submission']} | {r['median']} | {r['min']} to {r['max']} | {r['value']} |"
                for r in report["timeouts"]]
    if "blocked" in report:
        out.append("## A submission that blocks in every call (full mode; each hang is stuck, no timer)\n\n"
                   "| exercise | median | spread | runs | told as a hang | skipped | hung runs at most |\n"
                   "|---|---|---|---|---|---|---|")
        out += [f"| {r['exercise']} | {r['median']} | {r['min']} to {r['max']} | {r['runs']} | {r['hung']} | "
                f"{r['skipped']} | {r['bound']} |" for r in report["blocked"]]
        out.append("")
    if "floor" in report:
        out.append(f"## The floor: starting {FLOOR_PROCESSES} processes, bare and under the engine\n\n"
                   "| start method | bare run | per process | engine run | engine spread | overhead |\n"
                   "|---|---|---|---|---|---|")
        out += [f"| {r['start_method']} | {r['bare']} | {r['per_process']} | {r['engine']} | "
                f"{r['engine_spread'][0]} to {r['engine_spread'][1]} | x{r['overhead_ratio']} |"
                for r in report["floor"]]
        out.append("")
    if "stability" in report:
        out.append("## Stability: the same submission graded again and again, several at once\n\n"
                   "| exercise | submission | grades | distinct verdicts | checks passed |\n|---|---|---|---|---|")
        out += [f"| {r['exercise']} | {r['submission']} | {r['grades']} | {r['distinct_verdicts']} | "
                f"{', '.join(map(str, r['checks_passed']))} |" for r in report["stability"]]
        out.append("")
    if "shards" in report:
        sh = report["shards"]
        out.append(f"## Shards ({report['batch_exercise']} solution, full mode): a class of {sh['students']} "
                   f"as {sh['shards']} shards, one after another, then merged\n\n"
                   f"The floor: one bare run under each start method, {sh['floor_full']} s in this run.\n\n"
                   "| shard | students | jobs | seconds | per minute | s per student | x floor | all graded |\n"
                   "|---|---|---|---|---|---|---|---|")
        out += [f"| {r['shard']} | {r['students']} | {r['jobs']} | {r['seconds']} | {r['per_minute']} | "
                f"{r['per_student']} | x{r['floor_ratio']} | {r['all_graded']} |" for r in sh["rows"]]
        out.append(f"\nAll shards: {sh['per_minute']} students a minute, {sh['per_student']} s a student "
                   f"(x{sh['floor_ratio']} the floor). The merge: {sh['merge_seconds']} s "
                   f"(x{sh['merge_floor_ratio']} the floor); every student passed: {sh['merged_all_passed']}.\n")
    if "together" in report:
        out.append("## Every solution in one command (`grade --submission solutions`, the whole command)\n\n"
                   "| mode | exercises | median | spread | floor | x floor | passed |\n|---|---|---|---|---|---|---|")
        out += [f"| {r['mode']} | {', '.join(r['exercises'])} | {r['median']} | {r['min']} to {r['max']} | "
                f"{r['floor']} | x{r['floor_ratio']} | {r['value']} |" for r in report["together"]]
        out.append("\nThe floor: one bare run under each start method (full), or under forkserver (quick), "
                   "in this run.\n")
    if "watch" in report:
        out.append("## Watch mode, warm: from a save to the first verdict and to the whole quick grade\n\n"
                   "| exercise | first verdict | spread | x floor | whole grade | spread | x floor | passed |\n"
                   "|---|---|---|---|---|---|---|---|")
        out += [f"| {r['exercise']} | {r['first_verdict']} | {r['first_spread'][0]} to {r['first_spread'][1]} | "
                f"x{r['first_floor_ratio']} | {r['whole']} | {r['whole_spread'][0]} to {r['whole_spread'][1]} | "
                f"x{r['whole_floor_ratio']} | {r['passed']} |" for r in report["watch"]]
        out.append("\nThe floor: one bare forkserver run in this run.\n")
    if "batch" in report:
        out.append(f"## Batch throughput ({report['batch_exercise']} solution, full mode, the batch command)\n\n"
                   "| cores | jobs | submissions | seconds | per minute | all passed |\n|---|---|---|---|---|---|")
        out += [f"| {r['cores']} | {r['jobs']} | {r['submissions']} | {r['seconds']} | {r['per_minute']} | "
                f"{r['all_passed']} |" for r in report["batch"]]
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(prog="python -m graders.devtools.bench", description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--out", type=Path, default=KIT / ".kit" / "bench", help=HELP_OUT)
    parser.add_argument("--repeat", type=int, default=3, help=HELP_REPEAT)
    parser.add_argument("--exercises", default="", help=HELP_EXERCISES)
    parser.add_argument("--cores", default=f"1,2,{cores}", help=HELP_CORES)
    parser.add_argument("--sizes", default="2,4,8", help=HELP_SIZES)
    parser.add_argument("--sections", default=",".join(SECTIONS[:-1]), help=HELP_SECTIONS)
    parser.add_argument("--stability-grades", type=int, default=20, help=HELP_STABILITY)
    parser.add_argument("--shards", default="16/4", metavar="STUDENTS/N", help=HELP_SHARDS)
    args = parser.parse_args(argv)
    known = manifest.load()
    names = [n for n in args.exercises.split(",") if n] or list(known)
    sections = [s for s in args.sections.split(",") if s]
    if args.repeat < 1 or any(n not in known for n in names) or any(s not in SECTIONS for s in sections):
        parser.error(f"--repeat must be at least 1; exercises: {', '.join(known)}; sections: {', '.join(SECTIONS)}")
    exercises = [known[n] for n in names]
    cores_list = sorted({min(int(c), cores) for c in args.cores.split(",") if c.strip().isdigit() and int(c) > 0})
    sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    class_and_shards = tuple(int(x) for x in args.shards.split("/") if x.isdigit())
    if len(class_and_shards) != 2 or min(class_and_shards) < 1:
        parser.error("--shards takes STUDENTS/N, e.g. 16/4")
    report = {"when": time.strftime("%Y-%m-%d %H:%M"), "repeat": args.repeat,
              "machine": f"{cores} cores, Python {sys.version.split()[0]}"}
    steps = {"solutions": lambda: solutions(exercises, args.repeat),
             "wrong": lambda: wrong(exercises, args.repeat),
             "hang": lambda: hang(args.repeat), "timeouts": lambda: timeouts(args.repeat),
             "floor": lambda: floor(args.repeat),
             "blocked": lambda: blocked(exercises, args.repeat),
             "batch": lambda: batch(cores_list, sizes, exercises[0]),
             "shards": lambda: shards(*class_and_shards, exercises[0],
                                      report.get("floor") or floor(args.repeat)),
             "together": lambda: together(exercises, args.repeat, report.get("floor") or floor(args.repeat)),
             "watch": lambda: watch(exercises, args.repeat, report.get("floor") or floor(args.repeat)),
             "stability": lambda: stability(exercises, args.stability_grades, 2 * cores)}
    for section in sections:
        print(f"measuring {section} ...", file=sys.stderr, flush=True)
        report[section] = steps[section]()
    report["batch_exercise"] = exercises[0].name
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in (("report.json", json.dumps(report, indent=2)), ("report.md", markdown(report))):
        write_whole(args.out / name, text)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
