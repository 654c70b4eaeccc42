"""Join the out folders of a class's shards into one, as if one batch had graded the whole class.

Each part is the out folder of `grade --submissions ROOT --shard K/N`; its
shard.json says which shard of which class it holds, under which options.
The merge refuses parts that disagree (other options, another class, another
N), a shard given twice or left out, a student graded in two parts and a
student of the class graded in none; then it writes the same gradebook.csv
and students/ tree as one batch. Each student's folder is copied under a
temporary name and renamed when whole, and one already there with the same
files is left alone, so an interrupted merge rerun ends the same.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from graders.classroom.batch import SHARD_FILE, write_gradebook


class MergeError(Exception):
    """The parts cannot be merged as given: a usage error, told in the instructor's terms."""


def read_part(folder: Path) -> dict:
    try:
        meta = json.loads((folder / SHARD_FILE).read_text())
        k, n = meta["shard"]
        return {**meta, "folder": folder, "label": f"{k}/{n}"}
    except (OSError, ValueError, KeyError, TypeError) as problem:
        raise MergeError(f"{folder} is not the out folder of a shard (no readable {SHARD_FILE}: grade it with "
                         f"--submissions ROOT --shard K/N --out {folder})") from problem


def graded_in(part: dict) -> list[str]:
    """The students whose folder in the part is whole (half-written ones have a dotted name)."""
    students = part["folder"] / "students"
    if not students.is_dir():
        return []
    return sorted(p.name for p in students.iterdir()
                  if not p.name.startswith(".") and (p / "batch.json").is_file())


def check(parts: list[dict]) -> dict[str, dict]:
    """Which part each student of the class comes from; a MergeError when the parts do not make one class."""
    first = parts[0]
    for part in parts[1:]:
        for what, field in (("options", "options"), ("class (the student folders under ROOT)", "class")):
            if part[field] != first[field]:
                raise MergeError(f"shards {first['label']} ({first['folder']}) and {part['label']} "
                                 f"({part['folder']}) were graded with different {what}: regrade them alike")
        if part["shard"][1] != first["shard"][1]:
            raise MergeError(f"{first['folder']} is shard {first['label']} but {part['folder']} is shard "
                             f"{part['label']}: every part must split the class in the same number of shards")
    n = first["shard"][1]
    seen = {}
    for part in parts:
        if part["label"] in seen:
            raise MergeError(f"shard {part['label']} given twice: {seen[part['label']]} and {part['folder']}")
        seen[part['label']] = part["folder"]
    absent = [f"{k}/{n}" for k in range(1, n + 1) if f"{k}/{n}" not in seen]
    if absent:
        raise MergeError(f"shard{'s' if len(absent) > 1 else ''} {', '.join(absent)} missing: give the out "
                         f"folders of all {n} shards")
    owner: dict[str, dict] = {}
    graded = {part["label"]: graded_in(part) for part in parts}
    for part in parts:
        for name in graded[part["label"]]:
            if name in owner:
                raise MergeError(f"{name} was graded in two shards, {owner[name]['label']} ({owner[name]['folder']})"
                                 f" and {part['label']} ({part['folder']}): keep it in one")
            owner[name] = part
    for name, part in owner.items():
        if name not in part["students"]:
            raise MergeError(f"{name} in {part['folder']} is not a student of shard {part['label']} of this class")
    ungraded = {}
    for part in parts:
        for name in part["students"]:
            if name not in owner:
                ungraded.setdefault(part["label"], []).append(name)
    if ungraded:
        raise MergeError("students not graded yet: " + "; ".join(
            f"{', '.join(names)} (rerun shard {label})" for label, names in sorted(ungraded.items())))
    return owner


def same_files(a: Path, b: Path) -> bool:
    try:
        names = sorted(p.name for p in a.iterdir())
        return (names == sorted(p.name for p in b.iterdir())
                and all((a / n).read_bytes() == (b / n).read_bytes() for n in names))
    except OSError:
        return False


def merge(folders: list[Path], out: Path, report=print) -> dict:
    """Merge the shards' out folders into OUT; the counts of students copied, already there and in error."""
    if not folders:
        raise MergeError("name the out folders of the shards to merge")
    parts = [read_part(f) for f in folders]
    for part in parts:
        if part["folder"].resolve() == out.resolve():
            raise MergeError(f"{out} is shard {part['label']} itself: merge into another folder")
    if (out / SHARD_FILE).exists():
        raise MergeError(f"{out} holds a shard ({SHARD_FILE}): merge into another folder")
    owner = check(parts)
    target = out / "students"
    strangers = sorted(p.name for p in target.iterdir()
                       if not p.name.startswith(".") and p.name not in owner) if target.is_dir() else []
    if strangers:
        raise MergeError(f"{out} already holds students of another class ({', '.join(strangers[:5])}"
                         f"{', ...' if len(strangers) > 5 else ''}): merge into an empty folder")
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob(".*.part-*"):
        shutil.rmtree(stale, ignore_errors=True)
    counts = {"students": len(owner), "copied": 0, "skipped": 0, "errors": 0}
    for name, part in sorted(owner.items()):
        source, final = part["folder"] / "students" / name, target / name
        meta = json.loads((source / "batch.json").read_text())
        counts["errors"] += bool(meta.get("error"))
        if final.is_dir() and same_files(source, final):
            counts["skipped"] += 1
            continue
        partial = target / f".{name}.part-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial, symlinks=True)
        if final.exists():
            old = target / f".{name}.part-old-{os.getpid()}"
            final.replace(old)
            shutil.rmtree(old, ignore_errors=True)
        partial.replace(final)
        counts["copied"] += 1
    write_gradebook(out)
    report(f"{counts['students']} students from {len(parts)} shards: {counts['copied']} copied, "
           f"{counts['skipped']} already there")
    return counts
