"""Results files for other tools, each rendered from the one results model.

- `gradescope`: Gradescope's results.json (the autograder specification);
- `exercism`: Exercism's test-runner results.json, version 3;
- `junit`: JUnit XML, which CI systems and GitHub Actions reporters read.

Points: each exercise is worth 100, shared among its checks by weight; a
check earns its points only if it passed under every start method, as in the
report. Hidden checks keep their points but show in Gradescope only after the
due date (HIDDEN_VISIBILITY), and never show their code. Feedback text is
capped, and says so where it was cut.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from graders.engine import catalog, manifest
from graders.engine.report import failure_text, score_line
from graders.engine.results import CheckResult, ExerciseResult, GradeResult

FEEDBACK_CAP = 8_000  # characters of feedback per check
MESSAGE_CAP = 65_000  # Exercism's top-level message: at most 65,535 characters
EXERCISM_OUTPUT_CAP = 500  # Exercism: a test's user output is at most 500 characters
EXERCISM_CUT = "Output was truncated. Please limit to 500 chars"
HIDDEN_VISIBILITY = "after_due_date"
FORMATS = ("gradescope", "exercism", "junit")
FILE_NAMES = {"gradescope": "gradescope.json", "exercism": "exercism.json", "junit": "junit.xml"}


def cap(text: str, limit: int = FEEDBACK_CAP) -> str:
    """`text`, cut to `limit` characters with a last line that says how much was cut."""
    if len(text) <= limit:
        return text
    note = "\n[... feedback cut: {} more characters]"
    keep = limit - len(note.format(len(text)))
    return text[:keep] + note.format(len(text) - keep)


def points(exercise: ExerciseResult, check: CheckResult) -> float:
    """The check's share of the exercise's 100 points."""
    total = sum(c.weight for c in exercise.checks)
    return round(100 * check.weight / total, 2) if total else 0.0


def feedback(check: CheckResult) -> str:
    return "" if check.passed else cap(failure_text(check))


def check_code(exercise_name: str, check: CheckResult) -> str:
    """The source of a public check; hidden checks say only that they are hidden."""
    if check.visibility == "hidden":
        return "(a hidden check: its code is not shown)"
    exercise = manifest.load().get(exercise_name)
    for info in catalog.checks_of(exercise) if exercise else ():
        if info.name == check.name:
            return cap(info.source())
    return check.title


def render(name: str, result: GradeResult) -> str:
    return {"gradescope": gradescope, "exercism": exercism, "junit": junit}[name](result)


def gradescope(result: GradeResult) -> str:
    tests = []
    for i, exercise in enumerate(result.exercises, 1):
        for j, check in enumerate(exercise.checks, 1):
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
    # The top-level score is what Gradescope records (out of 100 per exercise, the tests' max_score added up).
    data = {
        "score": float(sum(e.score for e in result.exercises)),
        "execution_time": round(result.seconds),
        "output": "\n".join(_visible_line(e) for e in result.exercises) or "Nothing was graded.",
        "stdout_visibility": "hidden",  # the full report names every check: instructors only
        "tests": tests,
    }
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
    status = "pass" if result.passed else "fail"
    return json.dumps({"version": 3, "status": status, "message": None, "tests": tests}, indent=2)


def _program_output(check: CheckResult) -> str:
    """What the student's program wrote (stderr), as kept in the failure's details."""
    for run in check.runs:
        details = run.failure.details if run.failure else []
        if "the program wrote to stderr:" in details:
            lines = details[details.index("the program wrote to stderr:") + 1:]
            text = "\n".join(line.removeprefix("    ") for line in lines)
            if len(text) > EXERCISM_OUTPUT_CAP:
                text = text[:EXERCISM_OUTPUT_CAP - len(EXERCISM_CUT) - 1] + "\n" + EXERCISM_CUT
            return text
    return ""


def junit(result: GradeResult) -> str:
    suites = ET.Element("testsuites", name="multiprocessing exercise kit")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for exercise in result.exercises:
        suite = ET.SubElement(suites, "testsuite", name=exercise.name)
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="title", value=exercise.title)
        ET.SubElement(properties, "property", name="score", value=str(exercise.score))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        seconds = 0.0
        for check in exercise.checks:
            took = sum(r.seconds for r in check.runs)
            seconds += took
            case = ET.SubElement(suite, "testcase", classname=f"graders.{exercise.name}", name=check.title,
                                 time=f"{took:.3f}")
            props = ET.SubElement(case, "properties")
            for key, value in (("check", check.name), ("weight", check.weight), ("visibility", check.visibility),
                               ("points", points(exercise, check))):
                ET.SubElement(props, "property", name=key, value=str(value))
            counts["tests"] += 1
            if not check.passed:
                failed = [r.failure for r in check.runs if not r.passed and r.failure]
                kind = failed[0].kind if failed else "wrong"
                tag = "error" if kind in ("crash", "grader") else "failure"
                counts["errors" if tag == "error" else "failures"] += 1
                element = ET.SubElement(case, tag, type=kind,
                                        message=failed[0].summary[:500] if failed else "failed")
                element.text = feedback(check)
        suite.set("time", f"{seconds:.3f}")
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    suites.set("time", f"{result.seconds:.3f}")
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
