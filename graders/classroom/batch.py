"""Grade a whole class: every student's folder, in parallel, into a gradebook.

    ROOT/alice/lock/tickets.py        one folder per student, laid out like
    ROOT/bob/tickets.py               exercises/ or holding the stub files anywhere

Each student is graded by the engine's own `grade()` (pytest processes of its
own, sandbox slots of its own), `jobs` at a time. Results go to OUT:

    OUT/gradebook.csv                 student, exercise, score, max, checks passed, checks, verdict
    OUT/students/NAME/results.json    the kit's results model, and any other formats asked for
    OUT/students/NAME/batch.json      what was graded (a key of the options and files), and the verdicts

A student's folder is written under a temporary name and renamed when whole,
and the gradebook is rewritten whole from the finished folders after each
student; so an interrupted batch keeps every result already written, and a
rerun skips the students whose folder is there with the same key (same
options, same files) and grades the rest.

A shard (K of N) grades only the students whose folder name hashes to it, so
every machine that grades a shard of the same class sees the same split, in
whatever order it lists the folders; OUT/shard.json then says which shard it
is, of which class, under which options, for `merge` (classroom/merging.py).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from graders.engine import catalog

from graders.classroom import formats
from graders.engine.grading import GraderError, grade
from graders.engine.manifest import Exercise
from graders.engine.results import CheckResult, ExerciseResult, Failure, GradeResult, Run
from graders.engine.files import write_whole

COLUMNS = ["student", "exercise", "score", "max", "checks_passed", "checks", "verdict"]
SHARD_FILE = "shard.json"


def in_shard(name: str, shard: tuple[int, int]) -> bool:
    """Whether student folder `name` belongs to shard K of N: by a hash of the name, never its position."""
    k, n = shard
    return int.from_bytes(hashlib.sha256(os.fsencode(name)).digest()[:8], "big") % n == k - 1


def find_sources(folder: Path, exercises: list[Exercise]) -> dict[str, Path | None]:
    """Each exercise's stub in a submission: NAME/STUB, exercises/NAME/STUB, STUB, or one found deeper."""
    found = {}
    for exercise in exercises:
        candidates = [folder / exercise.name / exercise.stub, folder / "exercises" / exercise.name / exercise.stub,
                      folder / exercise.stub]
        path = next((p for p in candidates if _plain_file_inside(p, folder)), None)
        if path is None:
            deeper = sorted(p for p in folder.rglob(exercise.stub) if _plain_file_inside(p, folder)
                            and not any(part.startswith(".") for part in p.relative_to(folder).parts))
            named = [p for p in deeper if p.parent.name == exercise.name]
            path = (named or deeper or [None])[0] if len(named) == 1 or len(deeper) == 1 else None
        found[exercise.name] = path
    return found


MAX_STUB_SIZE = 1 << 20  # bytes: a stub is a page or two of Python


def _plain_file_inside(path: Path, folder: Path) -> bool:
    """A regular file that really is in the folder: a link to elsewhere (/etc/shadow, say) is not taken."""
    try:
        real = path.resolve(strict=True)
        return (path.is_file() and not path.is_symlink() and real.is_relative_to(folder.resolve(strict=True))
                and path.lstat().st_size <= MAX_STUB_SIZE)
    except (OSError, RuntimeError):
        return False


def why_missing(folder: Path, exercise: Exercise) -> str | None:
    """What stands where the stub should be, when it is something the kit will not take."""
    for path in (folder / exercise.name / exercise.stub, folder / "exercises" / exercise.name / exercise.stub,
                 folder / exercise.stub):
        try:
            info = path.lstat()
        except OSError:
            continue
        where = path.relative_to(folder)
        if stat.S_ISLNK(info.st_mode):
            return f"{where} is a link, and links are never followed: hand in the file itself"
        if stat.S_ISDIR(info.st_mode):
            return f"{where} is a folder, not a file"
        if not stat.S_ISREG(info.st_mode):
            return f"{where} is not a regular file"
        if info.st_size > MAX_STUB_SIZE:
            return f"{where} is larger than {MAX_STUB_SIZE >> 20} MiB"
    return None


def missing(exercise: Exercise, checks=(), reason: str | None = None) -> ExerciseResult:
    """An exercise that was not submitted: every check (of `checks`, if given) failed, saying what to hand in."""
    failure = Failure(kind="missing", summary=f"not graded: no {exercise.stub} was found in the submission"
                      + (f" ({reason})" if reason else ""),
                      hint=f"Hand in {exercise.name}/{exercise.stub} (or {exercise.stub}).")
    checks = [CheckResult(name=c.name, title=c.title, weight=exercise.checks.get(c.name, 1),
                          visibility="hidden" if c.hidden else "public",
                          runs=[Run(start_method="", passed=False, seconds=0.0, failure=failure)])
              for c in catalog.checks_of(exercise) if not checks or c.name in checks]
    return ExerciseResult(name=exercise.name, title=exercise.title, checks=checks)


def grade_folder(folder: Path, exercises: list[Exercise], *, methods, quick=False, checks=()) -> GradeResult:
    """Grade what a submission folder holds; an exercise without a file gets a failing grade, not an error."""
    sources = find_sources(folder, exercises)
    present = [e for e in exercises if sources[e.name] is not None]
    if present:
        result = grade(present, sources={e.name: sources[e.name] for e in present}, methods=methods,
                       quick=quick, checks=checks)
    else:
        result = GradeResult(mode="quick" if quick else "full", start_methods=list(methods))
    graded = {e.name: e for e in result.exercises}
    result.exercises = [graded.get(e.name) or missing(e, checks, why_missing(folder, e)) for e in exercises]
    return result


def stop_gradings(grace: float = 2.0) -> None:
    """Interrupt the gradings still running: Ctrl-C reaches them too, but `kill -INT` does not."""
    children = psutil.Process().children()
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        try:
            child.send_signal(signal.SIGINT)
        except psutil.Error:
            pass


def verdict(exercise: ExerciseResult) -> str:
    if exercise.checks and all(r.failure and r.failure.kind == "missing" for c in exercise.checks for r in c.runs):
        return "missing"
    return "passed" if exercise.passed else "failed"


@dataclass
class Batch:
    root: Path
    out: Path
    exercises: list[Exercise]
    methods: list[str]
    quick: bool = False
    checks: tuple = ()
    jobs: int = 2
    formats: tuple = formats.FORMATS
    report: object = print  # report(line) as students finish
    shard: tuple[int, int] | None = None  # (K, N): grade only the students of shard K of N
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def students_dir(self) -> Path:
        return self.out / "students"

    def everyone(self) -> list[Path]:
        """The whole class's folders, whichever shard this batch grades."""
        return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def students(self) -> list[Path]:
        return [p for p in self.everyone() if self.shard is None or in_shard(p.name, self.shard)]

    def options(self) -> dict:
        """What every shard of one class must share to be merged: it decides the grades and the files."""
        return {"exercises": [e.name for e in self.exercises], "methods": list(self.methods), "quick": self.quick,
                "checks": sorted(self.checks), "formats": list(self.formats)}

    def describe_shard(self) -> None:
        """Write OUT/shard.json: which shard of which class this out folder holds, for `merge`."""
        everyone = self.everyone()
        write_whole(self.out / SHARD_FILE, json.dumps(
            {"shard": list(self.shard), "options": self.options(), "class": [p.name for p in everyone],
             "students": [p.name for p in everyone if in_shard(p.name, self.shard)]}, indent=2))

    def key(self, folder: Path) -> str:
        """What decides a student's grade: the options and the files graded."""
        digest = hashlib.sha256()
        options = [[e.name for e in self.exercises], list(self.methods), self.quick, sorted(self.checks)]
        digest.update(json.dumps(options).encode())
        for name, path in sorted(find_sources(folder, self.exercises).items()):
            digest.update(name.encode() + b"\0" + (path.read_bytes() if path else b"-") + b"\0")
        return digest.hexdigest()

    def done(self, folder: Path) -> bool:
        try:
            meta = json.loads((self.students_dir / folder.name / "batch.json").read_text())
        except (OSError, ValueError):
            return False
        return meta.get("key") == self.key(folder) and not meta.get("error")

    def run(self) -> dict:
        """Grade every student not yet graded; the counts of graded, skipped and failed gradings."""
        self.students_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.students_dir.glob(".*.part-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if self.shard is not None:
            self.describe_shard()
        students = self.students()
        todo = [s for s in students if not self.done(s)]
        counts = {"students": len(students), "skipped": len(students) - len(todo), "graded": 0, "errors": 0}
        if counts["skipped"]:
            self.report(f"{counts['skipped']} of {len(students)} students already graded: skipped")
        self.write_gradebook()
        pool = ThreadPoolExecutor(max_workers=max(1, self.jobs))
        try:
            pending = {pool.submit(self.grade_student, s): s for s in todo}
            finished = 0
            while pending:
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    student = pending.pop(future)
                    finished += 1
                    line, error = future.result()
                    counts["errors" if error else "graded"] += 1
                    self.write_gradebook()
                    self.report(f"[{finished}/{len(todo)}] {student.name}: {line}")
        except BaseException:
            self.stopping.set()
            for future in pending:
                future.cancel()
            stop_gradings()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return counts

    def grade_student(self, folder: Path) -> tuple[str, str | None]:
        if self.stopping.is_set():
            return "not graded (stopping)", "stopping"
        key = self.key(folder)
        try:
            result = grade_folder(folder, self.exercises, methods=self.methods, quick=self.quick,
                                  checks=self.checks)
            error = None
        except GraderError as problem:
            result, error = None, str(problem)
        if self.stopping.is_set():
            return "not graded (stopping)", "stopping"
        rows = ([{"exercise": e.name, "score": e.score, "checks_passed": e.checks_passed, "checks": len(e.checks),
                  "verdict": verdict(e)} for e in result.exercises] if result else
                [{"exercise": e.name, "score": 0, "checks_passed": 0, "checks": len(e.checks), "verdict": "error"}
                 for e in self.exercises])
        files = {"batch.json": json.dumps({"student": folder.name, "key": key, "error": error, "rows": rows},
                                          indent=2)}
        if result is not None:
            files["results.json"] = result.to_json()
            for name in self.formats:
                files[formats.FILE_NAMES[name]] = formats.render(name, result)
        else:
            files["error.txt"] = error
        self.publish(folder.name, files)
        line = ", ".join(f"{r['exercise']} {r['score']}/100 ({r['verdict']})" for r in rows)
        return line, error

    def publish(self, name: str, files: dict[str, str]) -> None:
        """Write a student's folder whole: under a temporary name, then renamed into place."""
        partial = self.students_dir / f".{name}.part-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        for file_name, text in files.items():
            (partial / file_name).write_text(text)
        final = self.students_dir / name
        if final.exists():
            old = self.students_dir / f".{name}.part-old-{os.getpid()}-{threading.get_ident()}"
            final.replace(old)
            shutil.rmtree(old, ignore_errors=True)
        partial.replace(final)

    def write_gradebook(self) -> None:
        write_gradebook(self.out)


def write_gradebook(out: Path) -> None:
    """OUT/gradebook.csv, rewritten whole from the students' finished folders."""
    rows = []
    for meta_path in sorted((out / "students").glob("*/batch.json")):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        for row in meta.get("rows", []):
            rows.append({"student": meta["student"], "max": 100, **row})
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_whole(out / "gradebook.csv", text.getvalue())
