"""Results files for other tools, each rendered from the one results model.

- `gradescope`: Gradescope's results.json (the autograder specification);
- `exercism`: Exercism's test-runner results.json, version 3;
- `junit`: JUnit XML, which CI systems and GitHub Actions reporters read;
- `classroom`: the results GitHub Classroom's autograding reporter
  (classroom-resources/autograding-grading-reporter) reads from a step's
  `result` output, base64-encoded: its "Points X/Y" is the tests' scores
  added up over `max_score`.

Points: each exercise is worth 100, shared among its checks by weight; a
check earns its points only if it passed under every start method, as in the
report. Hidden checks keep their points but show in Gradescope only after the
due date (HIDDEN_VISIBILITY), and never show their code. Feedback text is
capped, and says so where it was cut.
"""
from __future__ import annotations

import ast
import json
import re
import textwrap
import xml.etree.ElementTree as ET

from graders.engine import catalog, manifest
from graders.engine.report import failure_text, score_line
from graders.engine.results import CheckResult, ExerciseResult, GradeResult

FEEDBACK_CAP = 8_000  # characters of feedback per check
MESSAGE_CAP = 65_000  # Exercism's top-level message: at most 65,535 characters
EXERCISM_OUTPUT_CAP = 500  # Exercism: a test's user output is at most 500 characters
EXERCISM_CUT = "Output was truncated. Please limit to 500 chars"
HIDDEN_VISIBILITY = "after_due_date"
FORMATS = ("gradescope", "exercism", "junit", "classroom")
FILE_NAMES = {"gradescope": "gradescope.json", "exercism": "exercism.json", "junit": "junit.xml",
              "classroom": "classroom.json"}


def cap(text: str, limit: int = FEEDBACK_CAP) -> str:
    """`text`, cut to `limit` characters with a last line that says how much was cut."""
    if len(text) <= limit:
        return text
    note = "\n[... feedback cut: {} more characters]"
    keep = limit - len(note.format(len(text)))
    return text[:keep] + note.format(len(text) - keep)


def points(exercise: ExerciseResult, check: CheckResult) -> float:
    """The check's share of the exercise's 100 points, in hundredths that add up to exactly 100."""
    return shares(exercise, 10_000)[exercise.checks.index(check)] / 100


def shares(exercise: ExerciseResult, whole: int) -> list[int]:
    """`whole` shared among the checks by weight, in whole units that add up to `whole` (largest remainders)."""
    total = sum(c.weight for c in exercise.checks)
    if not total:
        return [0] * len(exercise.checks)
    exact = [whole * c.weight / total for c in exercise.checks]
    units = [int(x) for x in exact]
    for i in sorted(range(len(exact)), key=lambda i: units[i] - exact[i])[:whole - sum(units)]:
        units[i] += 1
    return units


def feedback(check: CheckResult) -> str:
    return "" if check.passed else cap(failure_text(check))


def check_code(exercise_name: str, check: CheckResult) -> str:
    """The body of a public check, as a student reads it; hidden checks say only that they are hidden."""
    if check.visibility == "hidden":
        return "(a hidden check: its code is not shown)"
    exercise = manifest.load().get(exercise_name)
    for info in catalog.checks_of(exercise) if exercise else ():
        if info.name == check.name:
            return cap(_body(info.source()))
    return check.title


def _body(source: str) -> str:
    """A check function's statements without its decorators, `def` line and docstring, dedented."""
    function = ast.parse(textwrap.dedent(source)).body[0]
    statements = function.body
    if len(statements) > 1 and isinstance(statements[0], ast.Expr) and isinstance(statements[0].value, ast.Constant):
        statements = statements[1:]  # the docstring: the test's name already says it
    lines = textwrap.dedent(source).splitlines()
    return textwrap.dedent("\n".join(lines[statements[0].lineno - 1:statements[-1].end_lineno])).strip("\n")


def render(name: str, result: GradeResult) -> str:
    return {"gradescope": gradescope, "exercism": exercism, "junit": junit, "classroom": classroom}[name](result)


def gradescope(result: GradeResult) -> str:
    """Gradescope's results.json. Before the due date a student sees the visible tests and the top-level
    output only, so neither may tell anything of a hidden check: the visible ones are numbered first,
    without gaps, and the output counts them alone, with no time taken over all."""
    tests = []
    for i, exercise in enumerate(result.exercises, 1):
        ordered = sorted(exercise.checks, key=lambda c: c.visibility != "public")  # stable: file order kept
        for j, check in enumerate(ordered, 1):
            worth = points(exercise, check)
            tests.append({
                "name": f"{exercise.name}: {check.title}",
                "number": f"{i}.{j}",
                "score": worth if check.passed else 0.0,
                "max_score": worth,
                "status": "passed" if check.passed else "failed",
                "output": feedback(check),
                "tags": [exercise.name, check.name],
                "visibility": "visible" if check.visibility == "public" else HIDDEN_VISIBILITY,
            })
    hidden = any(c.visibility != "public" for e in result.exercises for c in e.checks)
    # The top-level score is what Gradescope records (out of 100 per exercise, the tests' max_score added up).
    data = {
        "score": float(sum(e.score for e in result.exercises)),
        "output": "\n".join(_visible_line(e) for e in result.exercises) or "Nothing was graded.",
        "stdout_visibility": "hidden",  # the full report names every check: instructors only
        "tests": tests,
    }
    if not hidden:  # a hang in a hidden check would show in the time the whole grading took
        data["execution_time"] = round(result.seconds)
    return json.dumps(data, indent=2)


def _visible_line(exercise: ExerciseResult) -> str:
    """The top-level line students see before the due date: with hidden checks, the visible ones only.

    A count or a score over every check would tell a student how many hidden
    checks passed; the visible tests' own counts tell nothing more than the tests themselves.
    """
    visible = [c for c in exercise.checks if c.visibility == "public"]
    if len(visible) == len(exercise.checks):
        return score_line(exercise)
    passed = sum(c.passed for c in visible)
    return (f"{exercise.name}: {passed}/{len(visible)} visible checks passed; "
            "more checks are graded and shown after the due date.")


def exercism(result: GradeResult) -> str:
    tests = []
    many = len(result.exercises) > 1
    for exercise in result.exercises:
        for check in exercise.checks:
            kinds = {r.failure.kind for r in check.runs if not r.passed and r.failure}
            test = {
                "name": f"{exercise.name}: {check.title}" if many else check.title,
                "status": "pass" if check.passed else "error" if kinds & {"crash", "grader"} else "fail",
                "message": feedback(check) or None,
                "test_code": check_code(exercise.name, check),
            }
            output = _program_output(check)
            if output:
                test["output"] = output
            tests.append(test)
    if not tests:
        return json.dumps({"version": 3, "status": "error", "message": "Nothing was graded: no check ran.",
                           "tests": []}, indent=2)
    unloadable = [text for text in map(_could_not_run, result.exercises) if text]
    if unloadable:  # the spec's error: no test could run, and the message says why
        return json.dumps({"version": 3, "status": "error", "message": cap("\n".join(unloadable), MESSAGE_CAP),
                           "tests": tests}, indent=2)
    status = "pass" if result.passed else "fail"
    return json.dumps({"version": 3, "status": status, "message": None, "tests": tests}, indent=2)


_CANNOT_LOAD = re.compile(r"\b(SyntaxError|IndentationError|TabError|ImportError|ModuleNotFoundError)\b")


def _could_not_run(exercise: ExerciseResult) -> str:
    """Why no check of the exercise could run its program ("" when some could): a file that
    does not compile or import under every check, or no file at all."""
    failures = [r.failure for c in exercise.checks for r in c.runs if not r.passed and r.failure]
    if not exercise.checks or len(failures) < sum(len(c.runs) for c in exercise.checks):
        return ""
    if all(f.kind == "missing" for f in failures):
        return f"{exercise.name}: {failures[0].summary}"
    if all(f.kind == "crash" and _CANNOT_LOAD.search(f.summary) for f in failures):
        return f"{exercise.name}: the program could not be loaded, so no check could run: {failures[0].summary}"
    return ""


def _program_output(check: CheckResult) -> str:
    """What the student's program printed (stdout), then what it wrote to stderr as the failure keeps it,
    cut as Exercism's specification asks."""
    printed = next((r.output for r in check.runs if r.output), "")
    wrote = ""
    for run in check.runs:
        details = run.failure.details if run.failure else []
        if "the program wrote to stderr:" in details:
            lines = details[details.index("the program wrote to stderr:") + 1:]
            wrote = "\n".join(line.removeprefix("    ") for line in lines)
            break
    text = "\n".join(part for part in (printed.rstrip("\n"), wrote) if part)
    if len(text) > EXERCISM_OUTPUT_CAP:
        text = text[:EXERCISM_OUTPUT_CAP - len(EXERCISM_CUT) - 1] + "\n" + EXERCISM_CUT
    return text


def junit(result: GradeResult) -> str:
    """JUnit XML, valid against the Jenkins xunit schema (junit-10.xsd).

    That schema allows `file` on a testsuite but neither `file` nor `line` on
    a testcase, nor properties inside one: the student's file is the suite's
    `file`, and a failure whose report names a line of it ends with
    ` at FILE:LINE`, where annotation actions that read the failure's text
    (mikepenz/action-junit-report) find it. A check's points and visibility
    are the suite's properties.
    """
    suites = ET.Element("testsuites", name="multiprocessing exercise kit")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    known = manifest.load()
    for exercise in result.exercises:
        stub = known[exercise.name].stub if exercise.name in known else None
        path = f"exercises/{exercise.name}/{stub}" if stub else None
        suite = ET.SubElement(suites, "testsuite", name=exercise.name, **({"file": path} if path else {}))
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="title", value=exercise.title)
        ET.SubElement(properties, "property", name="score", value=str(exercise.score))
        for check in exercise.checks:
            for key, value in (("weight", check.weight), ("visibility", check.visibility),
                               ("points", points(exercise, check))):
                ET.SubElement(properties, "property", name=f"{check.name}.{key}", value=str(value))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        seconds = 0.0
        for check in exercise.checks:
            took = sum(r.seconds for r in check.runs)
            seconds += took
            case = ET.SubElement(suite, "testcase", classname=f"graders.{exercise.name}.{check.name}",
                                 name=check.title, time=f"{took:.3f}")
            counts["tests"] += 1
            if not check.passed:
                failed = [r.failure for r in check.runs if not r.passed and r.failure]
                kind = failed[0].kind if failed else "wrong"
                tag = "error" if kind in ("crash", "grader") else "failure"
                counts["errors" if tag == "error" else "failures"] += 1
                element = ET.SubElement(case, tag, type=kind,
                                        message=failed[0].summary[:500] if failed else "failed")
                text = feedback(check)
                line = student_line(text, stub) if stub else None
                element.text = f"{text}\n at {path}:{line}" if line else text
        suite.set("time", f"{seconds:.3f}")
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    suites.set("time", f"{result.seconds:.3f}")
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def student_line(text: str, stub: str) -> int | None:
    """The first line of the student's file a report names ("tickets.py:64", "(tickets.py, line 94)")."""
    name = re.escape(stub)
    match = re.search(rf"\b{name}:(\d+)|\b{name}, line (\d+)", text)
    return int(match[1] or match[2]) if match else None


def classroom(result: GradeResult) -> str:
    """GitHub Classroom's runner results (version 1): one test per check, worth its points."""
    known = manifest.load()
    tests = []
    for exercise in result.exercises:
        stub = known[exercise.name].stub if exercise.name in known else ""
        worth = shares(exercise, 100)  # whole points: the reporter adds them up as they are
        for check, points_of_check in zip(exercise.checks, worth):
            kinds = {r.failure.kind for r in check.runs if not r.passed and r.failure}
            text = feedback(check)
            tests.append({
                "name": f"{exercise.name}: {check.title}",
                "status": "pass" if check.passed else "error" if kinds & {"crash", "grader"} else "fail",
                "score": points_of_check if check.passed else 0,
                "message": text,
                "test_code": f"nox -s grade -- {exercise.name} --checks {check.name}",
                "filename": f"exercises/{exercise.name}/{stub}" if stub else "",
                "line_no": (student_line(text, stub) if stub else None) or 0,
                "duration": round(1000 * sum(r.seconds for r in check.runs)),
            })
    status = "pass" if result.passed else "error" if not tests else "fail"
    return json.dumps({"version": 1, "status": status, "max_score": 100 * len(result.exercises), "tests": tests},
                      indent=2)
