"""`python -m graders.devtools.pictures`: the README's pictures of the report, in colour, as SVG.

Each picture is a real report: a submission from the bank (graders/NAME/bank.toml) is
graded by the engine and rendered as the student's terminal shows it, then
drawn as a terminal window. Nothing is made up, so the pictures follow the
report when its wording changes: rerun this after changing the report, a
check's messages or the bank, and commit the SVG files it writes.

    nox -s pictures                          # all, into docs/pictures/
    nox -s pictures -- race --out /tmp/pictures

It takes about half a minute: the variants are graded under every start
method, and a hang or a deadlock costs its stall time. The status picture is made
from a temporary state folder, so your own grades are untouched, and every
temporary folder is removed. Timing figures in the pictures vary from run to
run. This is for the kit's maintainers: it needs tests/, which the handout
leaves out.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from graders.cli import state
from graders.cli import status
from graders.devtools import bank
from graders.engine.files import write_whole
from graders.engine import manifest
from graders.engine.grading import GraderError, grade
from graders.engine.settings import START_METHODS
from graders.engine.manifest import KIT
from graders.engine.report import render

OUT = KIT / "docs" / "pictures"
COLUMNS = 110  # the terminal the pictures pretend to be; longer lines are folded at a space


@dataclass(frozen=True)
class Picture:
    about: str  # the README's alt text
    shows: str  # words of the report that make the picture's point: without them it is not written
    graded: tuple[tuple[str, str | None], ...]  # (exercise, entry of graders/EXERCISE/bank.toml or None: the solution)
    checks: tuple[str, ...] = ()  # () is every check; fewer keep a picture to its point


PICTURES = {
    "status": Picture(
        about="nox -s status: a progress bar, then each exercise with its state, its last score and its title, "
              "and the command to run next",
        shows="100/100", graded=(("lock", None), ("consumer", "stops_on_falsy_item"))),
    "race": Picture(
        about="A report for lock without a lock: the failed check shows, step by step, the three buyers inside "
              "buy() together",
        shows="step 2: inside buy: buyer", graded=(("lock", "no_lock"),)),
    # Which thread takes its first lock first varies from run to run; the report tells one cycle once
    # whatever the threads' roles, so the picture is the same size on every redraw.
    "deadlock": Picture(
        about="A deadlock told as a cycle: each thread holds one lock and waits for the other, at the student's "
              "line numbers",
        shows="because of a deadlock: Thread-", graded=(("rlock", "two_rlocks_opposite_orders"),),
        checks=("no_deadlock", "audit_reenters")),
    "hang": Picture(
        about="A hang: collect() never returned, and the report shows the line of the student's code the process "
              "is stuck on",
        shows="is stuck at collect.py:", graded=(("pool", "collect_after_with"),),
        checks=("tasks_run_in_parallel",)),
    "fork-only": Picture(
        about="A Lock made at module level: the check passes under fork only, and the report says why",
        shows="This works under fork but not under spawn or forkserver", graded=(("lock", "module_lock"),),
        checks=("search_is_concurrent", "buy_is_exclusive")),
    "crash": Picture(
        about="A crash told first: a buyer process died of JSONDecodeError, and the report names the exception, "
              "the student's line and their traceback before anything that followed from it",
        shows="died of an exception at tickets.py:26 in read_count: JSONDecodeError",
        graded=(("lock", "buy_empties_file_first"),), checks=("buy_is_exclusive",)),
    "lock-state": Picture(
        about="A hint drawn from the locks the buyers held: one shared lock, taken only around the write, so "
              "every buyer read the count in buy() holding no lock",
        shows="read the count in buy() holding no lock", graded=(("lock", "lock_around_the_write_only"),),
        checks=("buy_is_exclusive",)),
}

# ---- ANSI to SVG ----

# Some converters (cairosvg) take only the first family: make it one that has the box and tick glyphs.
FONT = "'DejaVu Sans Mono', ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace"
SIZE, LINE, CHAR = 14, 19, 8.43  # px; CHAR is a monospace advance at SIZE (0.6 em, rounded up)
PAD, BAR = 16, 34  # margin around the text; height of the title bar
BACKGROUND, FOREGROUND, TITLE = "#1e1f29", "#d8dee9", "#8a8f98"
FILLS = {"31": "#ff6b6b", "32": "#5fd35f", "33": "#f0c05a", "36": "#7fd1e8"}  # bright enough on the dark background
DOTS = ("#ff5f57", "#febc2e", "#28c840")

_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]")  # cursor moves and line clears: not drawn
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # XML 1.0 cannot hold these at all


@dataclass(frozen=True)
class Style:
    fill: str | None = None
    bold: bool = False
    dim: bool = False

    def apply(self, codes: str) -> "Style":
        style = self
        for code in codes.split(";"):
            if code in ("", "0"):
                style = Style()
            elif code == "1":
                style = Style(style.fill, True, style.dim)
            elif code == "2":
                style = Style(style.fill, style.bold, True)
            elif code == "22":
                style = Style(style.fill)
            elif code in FILLS or code == "39":
                style = Style(FILLS.get(code), style.bold, style.dim)
        return style

    def attributes(self) -> str:
        parts = []
        if self.fill:
            parts.append(f'fill="{self.fill}"')
        if self.bold:
            parts.append('font-weight="bold"')
        if self.dim:
            parts.append('fill-opacity="0.6"')
        return " ".join(parts)


def runs(text: str) -> list[list[tuple[str, Style]]]:
    """Each line of `text` as (text, style) runs; a style carries over to the next line, as in a terminal."""
    lines, style = [], Style()
    for raw in _OTHER_ESCAPES.sub("", text).expandtabs().split("\n"):
        raw, at, line = raw.rsplit("\r", 1)[-1], 0, []  # a carriage return starts the line over
        for match in [*_SGR.finditer(raw), None]:
            end = match.start() if match else len(raw)
            piece = _NOT_XML.sub("", raw[at:end])
            if piece:
                line.append((piece, style))
            if match:
                style, at = style.apply(match[1]), match.end()
        lines.append(line)
    return lines


def fold(line: list[tuple[str, Style]], columns: int) -> list[list[tuple[str, Style]]]:
    """A long line folded at spaces, its continuations indented like it, so no picture is too wide to read."""
    plain = "".join(t for t, _ in line)
    if len(plain) <= columns:
        return [line]
    indent = len(plain) - len(plain.lstrip(" "))
    cuts, start, skip, width = [], 0, indent, columns
    while len(plain) - start > width:
        space = plain.rfind(" ", start + skip + 1, start + width + 1)
        if space < 0:
            break  # one word longer than the line: leave it long
        cuts.append(space)
        start, skip, width = space + 1, 0, columns - indent
    pieces, first = [], 0
    for end in [*cuts, len(plain)]:
        pieces.append((first, end))
        first = end + 1  # the space folded on is dropped
    folded = []
    for n, (a, b) in enumerate(pieces):
        part, at = [(" " * indent, Style())] if n else [], 0
        for text, style in line:
            lo, hi = max(a, at), min(b, at + len(text))
            if lo < hi:
                part.append((text[lo - at:hi - at], style))
            at += len(text)
        folded.append(part)
    return folded


def ansi_to_svg(text: str, title: str = "", columns: int | None = None) -> str:
    """A dark terminal window showing `text`, coloured by its SGR codes (0, 1, 2, 22, 31, 32, 33, 39)."""
    lines = [piece for line in runs(text.rstrip("\n")) for piece in (fold(line, columns) if columns else [line])]
    longest = max((sum(len(t) for t, _ in line) for line in lines), default=0)
    width = round(2 * PAD + max(longest, len(title) + 12) * CHAR)
    height = BAR + PAD + len(lines) * LINE
    label = escape(title, {'"': "&quot;"})
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}">',
           f'<rect width="{width}" height="{height}" rx="8" fill="{BACKGROUND}"/>']
    out += [f'<circle cx="{20 + 20 * n}" cy="{BAR // 2}" r="6" fill="{fill}"/>' for n, fill in enumerate(DOTS)]
    if title:
        out.append(f'<text x="{width / 2:g}" y="{BAR // 2 + 5}" text-anchor="middle" font-family="{FONT}" '
                   f'font-size="13" fill="{TITLE}">{escape(title)}</text>')
    out.append(f'<g font-family="{FONT}" font-size="{SIZE}" fill="{FOREGROUND}">')
    for n, line in enumerate(lines):
        if not line:
            continue
        spans = "".join(f"<tspan {style.attributes()}>{escape(t)}</tspan>" if style.attributes() else escape(t)
                        for t, style in line)
        out.append(f'<text x="{PAD}" y="{BAR + PAD + n * LINE}" xml:space="preserve">{spans}</text>')
    out += ["</g>", "</svg>", ""]
    return "\n".join(out)


# ---- making the pictures ----

def _sources(picture: Picture, folder: Path) -> dict[str, Path]:
    """The file to grade for each exercise: a bank variant written into `folder`, or the solution."""
    exercises, sources = manifest.load(), {}
    for name, variant_name in picture.graded:
        exercise = exercises[name]
        if variant_name is None:
            sources[name] = exercise.solution_dir / exercise.stub
            continue
        variant = next((v for v in bank.load(name) if v.name == variant_name), None)
        if variant is None:
            raise SystemExit(f"graders/{name}/bank.toml has no variant {variant_name!r}")
        path = folder / name / exercise.stub
        path.parent.mkdir(parents=True)
        path.write_text(variant.source(exercise))
        sources[name] = path
    return sources


class NotShown(Exception):
    """A report that misses its picture's point: the kit is broken, or the report or the bank changed."""


def _shown(picture: Picture, text: str) -> str:
    plain = _SGR.sub("", text)
    if picture.shows not in plain:
        raise NotShown(f"the report does not say {picture.shows!r}:\n{plain}")
    return text


def _grade(picture: Picture, folder: Path):
    exercises = manifest.load()
    chosen = [exercises[name] for name, _ in picture.graded]
    return grade(chosen, sources=_sources(picture, folder), methods=START_METHODS, checks=picture.checks)


def report_picture(picture: Picture) -> str:
    """The report as `nox -s grade` prints it, the line before it included."""
    names = [name for name, _ in picture.graded]
    with tempfile.TemporaryDirectory(prefix="kit-pictures-") as folder:
        result = _grade(picture, Path(folder))
    text = (f"Grading {', '.join(names)} under {', '.join(START_METHODS)} ...\n"
            + render(result, colour=True, some_checks=bool(picture.checks)))
    command = " ".join(["nox -s grade --", *names, *(["--checks", ",".join(picture.checks)] if picture.checks else [])])
    return ansi_to_svg(_shown(picture, text), title=command, columns=COLUMNS)


def status_picture(picture: Picture) -> str:
    """The status view over the picture's grades, kept in a temporary state folder as KIT_STATE_DIR would."""
    exercises = manifest.load()
    saved = state.STATE
    with tempfile.TemporaryDirectory(prefix="kit-pictures-") as folder:
        result = _grade(picture, Path(folder) / "submissions")
        state.STATE = Path(folder) / "state"
        try:
            for graded in result.exercises:
                # saved against the student's own file, as `grade` does, so status says nothing was edited since
                exercise = exercises[graded.name]
                state.save_grade(graded, exercise.exercise_dir / exercise.stub, result.mode)
            text = status.render(status.rows(), colour=True, unicode=True)
        finally:
            state.STATE = saved
    return ansi_to_svg(_shown(picture, text), title="nox -s status", columns=COLUMNS)


def make(name: str) -> str:
    return (status_picture if name == "status" else report_picture)(PICTURES[name])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graders.devtools.pictures", description=__doc__.splitlines()[0])
    parser.add_argument("pictures", nargs="*", metavar="PICTURE",
                        help=f"pictures to make (default: all): {', '.join(PICTURES)}")
    parser.add_argument("--out", type=Path, default=OUT, metavar="DIR", help="where to write NAME.svg "
                        "(default: docs/pictures in the kit)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.pictures if n not in PICTURES]
    if unknown:
        parser.error(f"unknown picture {', '.join(map(repr, unknown))}; choose from: {', '.join(PICTURES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    started, failed = time.perf_counter(), []
    for name in args.pictures or PICTURES:
        began = time.perf_counter()
        try:
            svg = make(name)
        except (NotShown, GraderError) as error:  # the picture already there is better than a wrong one
            print(f"{name}: not written: {error}", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        path = args.out / f"{name}.svg"
        write_whole(path, svg)
        print(f"{path}  ({time.perf_counter() - began:.1f} s)", flush=True)
    print(f"done in {time.perf_counter() - started:.1f} s" + (f"; not written: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
