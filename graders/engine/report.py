"""The terminal report, rendered from the results model.

A failed check shows its plain name, then under which start methods it failed,
what was expected and what happened, the smallest failing case, a hint, and
the student's own lines. Colour only where the terminal takes it.
"""
from __future__ import annotations

import os
import re
import sys

from graders.engine.results import NOT_RUN, CheckResult, ExerciseResult, Failure, GradeResult
from graders.engine.stacks import shows_pickling_error

_COLOURS = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}


def use_colour(stream=sys.stdout) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def use_unicode(stream=sys.stdout) -> bool:
    return (getattr(stream, "encoding", None) or "").lower().replace("-", "") == "utf8"


_CODE = re.compile(r"`([^`\n]+)`")


class Paint:
    def __init__(self, colour: bool, unicode: bool):
        self.colour = colour
        self.ok, self.no = ("✓", "✗") if unicode else ("ok", "FAIL")
        self.quotes = ("\u2018", "\u2019") if unicode else ("'", "'")

    def code(self, text: str | None, bold_line: bool = False) -> str | None:
        """The kit's words with their `inline code` as a terminal shows it: in colour, bold (which
        keeps the line's colour) or, on a bold line, cyan; else in quotes; a backtick itself would
        show as one."""
        if text is None:
            return None
        if self.colour:
            on, off = ("36", "39") if bold_line else ("1", "22")
            return _CODE.sub(lambda m: f"\033[{on}m{m[1]}\033[{off}m", text)
        return _CODE.sub(lambda m: f"{self.quotes[0]}{m[1]}{self.quotes[1]}", text)

    def __call__(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        codes = ";".join(_COLOURS[s] for s in styles)
        return f"\033[{codes}m{text}\033[0m"


def render(result: GradeResult, colour: bool = False, unicode: bool = True, some_checks: bool = False) -> str:
    """The report; with `some_checks` (a grade of chosen checks only), no score, which would mislead."""
    paint = Paint(colour, unicode)
    lines = []
    for exercise in result.exercises:
        lines += _exercise(exercise, paint)
        lines.append("")
    for exercise in result.exercises:
        line = (f"{exercise.name}: {exercise.checks_passed}/{len(exercise.checks)} of the chosen checks passed "
                "(no score: grade every check for one)") if some_checks else score_line(exercise)
        lines.append(paint(line, "green" if exercise.passed else "red", "bold"))
    lines.append(paint(f"({result.mode} mode, start methods: {_methods(result)}; {result.seconds:.1f} s)", "dim"))
    return "\n".join(lines)


def _methods(result: GradeResult) -> str:
    """The start methods graded, and apart those only checks pinned to them used (quick mode is
    forkserver only, but a check whose evidence only fork keeps still runs under fork)."""
    checks = [c for e in result.exercises for c in e.checks]
    asked = {r.start_method for c in checks if not c.pinned for r in c.runs}
    main = [m for m in result.start_methods if m in asked] or list(result.start_methods)
    text = ", ".join(main)
    for method in (m for m in result.start_methods if m not in main):
        pinned = [c for c in checks if c.pinned == method]
        which = "a check that needs it" if len(pinned) == 1 else f"{len(pinned)} checks that need it"
        text += f", and {method} for {which}"
    return text


def score_line(exercise: ExerciseResult) -> str:
    return (f"{exercise.name}: {exercise.checks_passed}/{len(exercise.checks)} checks passed, "
            f"score {exercise.score}/100")


def failure_text(check: CheckResult) -> str:
    """What a failed check says, in plain text: the lines the report shows under it. Its `inline
    code` stays as it is: results files are read in a browser, which may render it as Markdown."""
    return "\n".join(_failure(check, Paint(False, True), markdown=True))


def _exercise(exercise: ExerciseResult, paint: Paint) -> list[str]:
    lines = [paint(f"{exercise.name} - {exercise.title}", "bold")]
    shown: dict = {}  # what was told in full under an earlier check of this exercise: where
    for check in exercise.checks:
        if check.passed:
            lines.append(f"  {paint(paint.ok, 'green')} {paint.code(check.title)}")
        else:
            lines.append(f"  {paint(paint.no, 'red')} {paint(paint.code(check.title, bold_line=True), 'bold')}")
            lines += ["      " + line for line in _failure(check, paint, shown)]
    return lines


def _failure(check: CheckResult, paint: Paint, shown: dict | None = None, markdown=False) -> list[str]:
    """Failures grouped by what they mean, each with the start methods it happened under.

    With `shown`, each mistake is told in full once per report: a failure already told under an
    earlier check (the same summary, or the same crash whatever the call) takes one line that
    names that check; a hang stuck at the same lines, for the same reason, takes two; a hint or
    a note told already is not told again.
    """
    groups: dict[tuple, list] = {}
    for run in check.runs:
        if not run.passed:
            groups.setdefault(_meaning(run.failure), []).append(run)
    lines, hints = [], set()
    told = {} if shown is None else shown
    code = (lambda text: text) if markdown else paint.code
    for runs in groups.values():
        f = runs[0].failure  # details (pids, stacks, thread names) differ from run to run; one is enough
        methods = [r.start_method for r in runs if r.start_method]
        where = f"under {_join(methods)}: " if methods else ""
        if shown is not None:
            keys = [(f.kind, _normal(f.summary)), *_crashes(f)]
            earlier = next((told[k] for k in keys if k in told), None)
            if earlier is not None:
                if earlier == check.title:  # under another start method of this check, with another case
                    lines.append(paint(f"{where}the same mistake as above", "red"))
                elif f.summary.startswith(NOT_RUN):
                    lines.append(paint(code(f"{where}not run either, for the reason given under {_quote(earlier)} "
                                            "above"), "red"))
                else:
                    lines.append(paint(code(f"{where}the same mistake as in {_quote(earlier)} above"), "red"))
                continue
            stuck = _stuck_at(f)
            if stuck is not None and stuck in told:  # another call of the program, the same hang
                lines.append(paint(where + code(f.summary), "red"))
                lines.append(code(f"stuck at the same lines as in {_quote(told[stuck])} above, for the same reason"))
                continue
            for key in keys + ([stuck] if stuck is not None else []):
                told.setdefault(key, check.title)
        lines.append(paint(where + code(f.summary), "red"))
        if f.expected is not None:
            lines.append(f"expected: {code(f.expected)}")
        if f.got is not None:
            lines.append(f"got:      {f.got}")  # the program's own words, as they were
        if f.case is not None:
            lines.append(f"failing case: {f.case}")
        lines += f.details
        if f.hint:
            first = told.setdefault(("hint", f.hint), check.title)
            if first != check.title:
                lines.append(paint(code(f"hint: the one under {_quote(first)} above"), "yellow"))
            elif f.hint not in hints:  # two failures of one check with one hint: once
                lines.append(paint(f"hint: {code(f.hint)}", "yellow"))
            hints.add(f.hint)
    passed = [r.start_method for r in check.runs if r.passed]
    if passed == ["fork"]:
        note = _fork_only_note([r.failure for r in check.runs if not r.passed])
        if ("note", note) in told and told[("note", note)] != check.title:
            lines.append(paint(code(f"This works under fork only, as under {_quote(told[('note', note)])} above."),
                               "yellow"))
        else:
            told.setdefault(("note", note), check.title)
            lines.append(paint(code(note), "yellow"))
    return lines


def _quote(title: str) -> str:
    return f'"{title}"'


# A crash's summary (checks.crash_failure): who died, at which line, of which type. Its message is
# left out: it may name a temporary file, and differs from run to run for the same mistake.
_CRASH = re.compile(r"\ba (process|thread) of your program died of an exception( at \S+:\d+ in \S+)?: (\w+)")
_ERROR = re.compile(r"\b([A-Z]\w*(?:Error|Exception|Exit|Interrupt)): (.+)$")


def _crashes(f: Failure) -> list[tuple]:
    """What makes two crashes the same mistake, whatever the call and the check: a process or
    thread that died, where, of what; or an exception the call raised, or that a check got."""
    keys = []
    match = _CRASH.search(f.summary) if f.kind == "crash" else None
    if match:
        keys.append(("crash", match[1], match[2], match[3]))
    for text in (f.summary, f.got):
        match = _ERROR.search(text or "")
        if match and not f.summary.startswith(NOT_RUN):
            keys.append(("error", match[1], match[2]))
    return keys


FORK_ONLY = "This works under fork but not under spawn or forkserver"
FORK_ONLY_PICKLING = (f"{FORK_ONLY}: fork copies the parent, so nothing has to be pickled to start a process, "
                      "but spawn and forkserver pickle the Process target and its args (and every Pool task) "
                      "to send them to a fresh process.")
FORK_ONLY_SHARED = (f"{FORK_ONLY}: something is shared only because fork copies the parent, most likely state "
                    "made at module level, such as a Lock, that every process must share: spawn and forkserver "
                    "give each process its own. Make it in the main code and pass it to each process.")
FORK_ONLY_EITHER = (f"{FORK_ONLY}, which start each process afresh instead of copying the parent. The usual "
                    "causes: a Process target or argument that cannot be pickled (a lambda, or a function "
                    "defined inside another function), or state made at module level, such as a Lock, that "
                    "every process must share (make it in the main code and pass it to each process).")
DEFAULT_METHOD = " Python 3.14 uses forkserver by default on Linux."


def _fork_only_note(failures: list[Failure]) -> str:
    """Why a check passed under fork only: the cause the failures show, or both usual ones.

    A pickling error shows in the failure's words. A run that went on and gave a wrong result or
    hung, with none, never pickled anything it could not: fork was sharing something. So was it
    for a crash on None: a global the main code set, which other start methods leave unset."""
    if any(shows_pickling_error("\n".join(filter(None, [f.summary, f.got, *f.details]))) for f in failures):
        return FORK_ONLY_PICKLING + DEFAULT_METHOD
    if all(f.kind in ("wrong", "hang") or "'NoneType'" in f.summary for f in failures):
        return FORK_ONLY_SHARED + DEFAULT_METHOD
    return FORK_ONLY_EITHER + DEFAULT_METHOD


_CYCLE = re.compile(r"(because of a deadlock: )(.*)$")
_WHO = re.compile(r"^.+? (?=holds )")
_WAITED = re.compile(r"\bafter \d+(?:\.\d+)? s\b")


def _normal(text: str | None) -> str | None:
    """A failure's words without what differs from run to run when the mistake is the same.

    A deadlock's cycle becomes the set of its clauses without the thread names (which thread took
    its first lock first is not forced), and a hang's waiting time goes."""
    if text is None:
        return None
    text = _WAITED.sub("after a while", text)
    match = _CYCLE.search(text)
    if match:
        clauses = sorted(_WHO.sub("a thread ", clause) for clause in match[2].split("; "))
        text = text[:match.start(2)] + "; ".join(clauses)
    return text


_STUCK_SITE = re.compile(r" is stuck at (\S+:\d+) ")


def _stuck_at(f: Failure) -> tuple | None:
    """What makes two hangs the same mistake, whatever the call and whichever check's hint comes
    with it: the student's lines each stuck thread stands on; None for a failure that is not such a hang."""
    sites = frozenset(m[1] for line in f.details for m in [_STUCK_SITE.search(line)] if m)
    if f.kind != "hang" or not sites:
        return None
    return "hang", sites


def _meaning(f: Failure) -> tuple:
    """What makes two runs' failures the same failure, told once with every start method it happened under."""
    return f.kind, _normal(f.summary), _normal(f.expected), _normal(f.got), _normal(f.case)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
