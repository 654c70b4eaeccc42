"""A class graded as shards and merged: the same gradebook as one batch, stable splits, refusals, resuming."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fake_class
from graders.classroom import merging as merging
from graders.classroom.batch import Batch, in_shard
from graders.engine.manifest import KIT

LOCK = fake_class.LOCK
OPTIONS = ["lock", "--quick", "--checks", fake_class.CHECK, "--jobs", "2"]


def kit(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "graders", *args], cwd=KIT, capture_output=True, text=True,
                          **kwargs)


def grade(root, out, *extra):
    done = kit("grade", *OPTIONS, "--submissions", str(root), "--out", str(out), *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def make_class(root: Path, names, wrong=(), absent=()) -> None:
    solution = (LOCK.solution_dir / LOCK.stub).read_text()
    stub = (LOCK.exercise_dir / LOCK.stub).read_text()
    for name in names:
        (root / name / "lock").mkdir(parents=True)
        if name not in absent:
            (root / name / "lock" / LOCK.stub).write_text(stub if name in wrong else solution)


STEP = re.compile(r"(step \d+: inside [^:\n]+: )([^\n]*)")


def without_timings(value):
    """A results file as two gradings of the same file agree on it: without the seconds each run took, and
    with the processes of a step in one order (a step lists them as they arrived, which no hook fixes)."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in ("seconds", "execution_time", "duration")}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    if isinstance(value, str):
        return STEP.sub(lambda m: m[1] + ", ".join(sorted(m[2].split(", "))), value)
    return value


def tree(out: Path) -> dict:
    """What a batch wrote: the gradebook, and each student's files (results untimed, JUnit by name only)."""
    found = {"gradebook.csv": (out / "gradebook.csv").read_text()}
    for path in sorted((out / "students").rglob("*")):
        where = str(path.relative_to(out))
        if path.suffix == ".json":
            found[where] = without_timings(json.loads(path.read_text()))
        elif path.is_file():
            found[where] = "junit" if path.suffix == ".xml" else path.read_text()
        else:
            found[where] = "folder"
    return found


def names_in(shard, count, prefix="s"):
    """`count` student names of shard K of N, so a test knows how many each shard grades."""
    found, i = [], 0
    while len(found) < count:
        if in_shard(f"{prefix}{i}", shard):
            found.append(f"{prefix}{i}")
        i += 1
    return found


def test_the_split_gives_each_student_one_shard_whatever_the_order_of_folders(tmp_path):
    names = [f"student-{i}" for i in range(60)] + ["Zoë", "a b", "x.y"]
    for n in range(1, 6):
        owners = {name: [k for k in range(1, n + 1) if in_shard(name, (k, n))] for name in names}
        assert all(len(o) == 1 for o in owners.values()), n
        if n > 1:
            assert len({o[0] for o in owners.values()}) == n  # no shard left empty by a class of 63
    # Two copies of a class made in opposite orders, on disk and in time: the same shards.
    for root, order in ((tmp_path / "a", names), (tmp_path / "b", names[::-1])):
        for name in order:
            (root / name).mkdir(parents=True)
    for k in range(1, 5):
        shards = [[p.name for p in Batch(root=root, out=tmp_path / "out", exercises=[LOCK], methods=["fork"],
                                         shard=(k, 4)).students()] for root in (tmp_path / "a", tmp_path / "b")]
        assert shards[0] == shards[1] and shards[0]


def test_four_shards_merged_give_the_gradebook_of_one_batch(tmp_path):
    root = tmp_path / "class"
    names = [f"student-{i}" for i in range(7)]
    make_class(root, names, wrong=names[1:3], absent=names[3:4])
    grade(root, tmp_path / "whole")
    parts = [tmp_path / f"part{k}" for k in range(1, 5)]
    graded = []
    for k, part in enumerate(parts, 1):
        done = grade(root, part, "--shard", f"{k}/4")
        assert f"(shard {k}/4 of 7)" in done.stdout
        graded += json.loads((part / "shard.json").read_text())["students"]
    assert sorted(graded) == names  # each student in one shard
    done = kit("merge", *map(str, parts[::-1]), "--out", str(tmp_path / "merged"))
    assert done.returncode == 0, done.stdout + done.stderr
    whole, merged = tree(tmp_path / "whole"), tree(tmp_path / "merged")
    assert merged == whole
    for k, part in enumerate(parts, 1):  # the merge copies each student's files as its shard wrote them
        for path in (part / "students").rglob("*"):
            if path.is_file():
                copy = tmp_path / "merged" / path.relative_to(part)
                assert copy.read_bytes() == path.read_bytes(), (k, path)
    verdicts = [line.rsplit(",", 1)[1] for line in whole["gradebook.csv"].splitlines()[1:]]
    assert verdicts == ["passed", "failed", "failed", "missing", "passed", "passed", "passed"]
    assert sorted(p.name for p in (tmp_path / "merged").iterdir()) == ["gradebook.csv", "students"]


def test_an_interrupted_shard_is_told_by_the_merge_and_a_rerun_of_it_goes_on(tmp_path):
    root = tmp_path / "class"
    first, second = names_in((1, 2), 4), names_in((2, 2), 1)
    make_class(root, first + second)
    part1, part2, merged = tmp_path / "part1", tmp_path / "part2", tmp_path / "merged"
    grade(root, part2, "--shard", "2/2")
    args = [sys.executable, "-m", "graders", "grade", *OPTIONS, "--jobs", "1", "--submissions", str(root),
            "--out", str(part1), "--shard", "1/2"]
    shard = subprocess.Popen(args, cwd=KIT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    try:
        while len([p for p in (part1 / "students").glob("[!.]*")]) < 1:
            assert shard.poll() is None, shard.stdout.read()
            time.sleep(0.2)
        shard.send_signal(signal.SIGINT)
        assert shard.wait(timeout=120) == 130, shard.stdout.read()
    finally:
        if shard.poll() is None:
            os.killpg(shard.pid, signal.SIGKILL)
    kept = sorted(p.name for p in (part1 / "students").glob("[!.]*"))
    assert 1 <= len(kept) < 4
    done = kit("merge", str(part1), str(part2), "--out", str(merged))
    assert done.returncode == 2 and "students not graded yet" in done.stderr and "rerun shard 1/2" in done.stderr
    assert all(name in done.stderr for name in first if name not in kept), done.stderr
    assert not (merged / "gradebook.csv").exists()

    again = grade(root, part1, "--shard", "1/2")
    assert f"{len(kept)} of 4 students already graded: skipped" in again.stdout
    done = kit("merge", str(part1), str(part2), "--out", str(merged))
    assert done.returncode == 0, done.stderr
    book = (merged / "gradebook.csv").read_text().splitlines()
    assert sorted(line.split(",")[0] for line in book[1:]) == sorted(first + second)
    assert all(line.endswith(",passed") for line in book[1:])


def fake_parts(tmp_path, names, n=2, options=None) -> list[Path]:
    """Shards' out folders as a batch lays them out, with made-up grades: the merge's checks need no grading."""
    root = tmp_path / "class"
    make_class(root, names)
    parts = []
    for k in range(1, n + 1):
        part = Batch(root=root, out=tmp_path / f"part{k}", exercises=[LOCK], methods=["forkserver"], quick=True,
                     checks=(fake_class.CHECK,), shard=(k, n), **(options or {}))
        part.describe_shard()
        part.students_dir.mkdir(parents=True)
        for folder in part.students():
            rows = [{"exercise": "lock", "score": 100, "checks_passed": 1, "checks": 1, "verdict": "passed"}]
            part.publish(folder.name, {"batch.json": json.dumps({"student": folder.name, "key": "k", "error": None,
                                                                 "rows": rows})})
        parts.append(part.out)
    return parts


def test_an_interrupted_merge_rerun_ends_the_same(tmp_path, monkeypatch):
    names = [f"s{i}" for i in range(6)]
    parts = fake_parts(tmp_path, names)
    merging.merge(parts, tmp_path / "once", report=lambda line: None)
    copies, copytree = [], shutil.copytree

    def copy_twice_then_stop(source, target, **kwargs):
        if len(copies) == 2:
            Path(target).mkdir()  # half a folder under its temporary name
            raise KeyboardInterrupt
        copies.append(source)
        return copytree(source, target, **kwargs)

    monkeypatch.setattr(merging.shutil, "copytree", copy_twice_then_stop)
    with pytest.raises(KeyboardInterrupt):
        merging.merge(parts, tmp_path / "twice", report=lambda line: None)
    assert len([p for p in (tmp_path / "twice" / "students").iterdir() if p.name.startswith(".")]) == 1
    monkeypatch.undo()
    counts = merging.merge(parts, tmp_path / "twice", report=lambda line: None)
    assert counts == {"students": 6, "copied": 4, "skipped": 2, "errors": 0}
    assert tree(tmp_path / "twice") == tree(tmp_path / "once")
    assert not [p for p in (tmp_path / "twice" / "students").iterdir() if p.name.startswith(".")]


def refusal(tmp_path, case):
    """The merge command's arguments for each way the parts can fail to make one class."""
    names = [f"s{i}" for i in range(6)]
    if case == "nothing":
        return []
    if case == "not a shard":
        (tmp_path / "plain").mkdir()
        return [tmp_path / "plain"]
    parts = fake_parts(tmp_path, names)
    if case == "missing shard":
        return parts[:1]
    if case == "shard twice":
        return [parts[0], parts[0], parts[1]]
    if case == "other options":
        meta = json.loads((parts[1] / "shard.json").read_text())
        meta["options"]["methods"] = ["fork", "spawn", "forkserver"]
        (parts[1] / "shard.json").write_text(json.dumps(meta))
    if case == "other class":
        meta = json.loads((parts[1] / "shard.json").read_text())
        meta["class"].append("newcomer")
        (parts[1] / "shard.json").write_text(json.dumps(meta))
    if case == "other split":
        other = fake_parts(tmp_path / "three", names, n=3)
        return [parts[0], other[1]]
    if case == "graded twice":
        stray = next(p for p in (parts[0] / "students").iterdir())
        shutil.copytree(stray, parts[1] / "students" / stray.name)
    if case == "not graded":
        shutil.rmtree(next(p for p in (parts[1] / "students").iterdir()))
    return parts


@pytest.mark.parametrize("case, message", [
    ("nothing", "name the out folders of the shards"),
    ("not a shard", "is not the out folder of a shard"),
    ("missing shard", "shard 2/2 missing"),
    ("shard twice", "shard 1/2 given twice"),
    ("other options", "different options"),
    ("other class", "different class"),
    ("other split", "same number of shards"),
    ("graded twice", "was graded in two shards, 1/2"),
    ("not graded", "students not graded yet"),
])
def test_parts_that_do_not_make_one_class_are_refused_with_exit_2(tmp_path, case, message):
    parts = refusal(tmp_path, case)
    done = kit("merge", *map(str, parts), "--out", str(tmp_path / "merged"))
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not (tmp_path / "merged" / "gradebook.csv").exists()


def test_a_merge_never_writes_into_a_shard_nor_over_another_class(tmp_path):
    parts = fake_parts(tmp_path, [f"s{i}" for i in range(4)])
    done = kit("merge", *map(str, parts), "--out", str(parts[0]))
    assert done.returncode == 2 and "is shard 1/2 itself" in done.stderr, done.stderr
    (tmp_path / "other" / "students" / "mallory").mkdir(parents=True)
    done = kit("merge", *map(str, parts), "--out", str(tmp_path / "other"))
    assert done.returncode == 2 and "students of another class (mallory)" in done.stderr, done.stderr


@pytest.mark.parametrize("shard", ["0/4", "5/4", "2", "a/b", "2/0", "1/2/3"])
def test_a_bad_shard_is_a_usage_error(shard):
    done = kit("grade", "lock", "--submissions", "exercises", "--shard", shard, "--out", "/nonexistent/never")
    assert done.returncode == 2 and "--shard takes K/N" in done.stderr, done.stderr


@pytest.mark.parametrize("extra", [[], ["--submission", "exercises"]])
def test_a_shard_without_a_class_is_a_usage_error(extra):
    """--shard splits a class: with one submission (or none named) it would be ignored, and the
    grade would look like a shard's when it is not."""
    done = kit("grade", "lock", "--shard", "1/2", *extra)
    assert done.returncode == 2 and "--shard needs --submissions" in done.stderr, done.stdout + done.stderr
    assert "Grading" not in done.stdout  # refused before anything was graded


def test_an_out_folder_holds_one_shard_or_the_whole_class(tmp_path):
    parts = fake_parts(tmp_path, [f"s{i}" for i in range(4)])
    root = tmp_path / "class"
    for extra, held in ((["--shard", "2/2"], "shard 1/2"), (["--shard", "1/3"], "shard 1/2"), ([], "shard 1/2")):
        done = kit("grade", *OPTIONS, "--submissions", str(root), "--out", str(parts[0]), *extra)
        assert done.returncode == 2 and f"holds {held} of a class" in done.stderr, done.stderr
    (tmp_path / "whole" / "students" / "s0").mkdir(parents=True)
    done = kit("grade", *OPTIONS, "--submissions", str(root), "--out", str(tmp_path / "whole"), "--shard", "1/2")
    assert done.returncode == 2 and "holds a whole class's grades" in done.stderr, done.stderr


def test_the_bench_measures_each_shard_and_the_merge_against_the_floor(tmp_path):
    done = subprocess.run([sys.executable, "-m", "graders.devtools.bench", "--sections", "floor,shards", "--shards", "3/2",
                           "--repeat", "1", "--exercises", "lock", "--out", str(tmp_path)], cwd=KIT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())["shards"]
    assert [r["shard"] for r in report["rows"]] == ["1/2", "2/2"]
    assert sum(r["students"] for r in report["rows"]) == 3 and all(r["all_graded"] for r in report["rows"])
    assert report["merged_all_passed"] is True
    assert report["floor_full"] == round(sum(r["bare"] for r in json.loads(
        (tmp_path / "report.json").read_text())["floor"]), 3)  # the floor of the same run, not another
    assert "## Shards (lock solution, full mode): a class of 3 as 2 shards" in done.stdout
