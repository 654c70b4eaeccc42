"""Results files: Gradescope's, Exercism's and GitHub Classroom's validate against their published formats
(tests/classroom/schemas/*.schema.json), JUnit XML against the Jenkins xunit schema pytest validates with
(tests/classroom/schemas/junit-10.xsd, read by xmlschema), and feedback is capped."""
import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from graders.classroom import formats
from graders.engine.results import Failure, GradeResult

HERE = Path(__file__).parent / "schemas"
GOLDEN = Path(__file__).parents[1] / "engine" / "golden" / "lock-stub.json"
SCHEMAS = {name: json.loads((HERE / f"{name}.schema.json").read_text())
           for name in ("gradescope", "exercism", "classroom")}
JUNIT = xmlschema.XMLSchema(str(HERE / "junit-10.xsd"))


def validate(name: str, text: str) -> dict:
    data = json.loads(text)
    jsonschema.Draft202012Validator(SCHEMAS[name]).validate(data)
    return data


@pytest.fixture
def result() -> GradeResult:
    """The golden stub result, with one check hidden and one failure far too long to show whole."""
    result = GradeResult.from_json(GOLDEN.read_text())
    checks = result.exercises[0].checks
    checks[2].visibility = "hidden"
    checks[1].runs[1].failure.details += ["x" * 200] * 100
    checks[2].runs[0].failure.details += ["the program wrote to stderr:"] + ["    " + "e" * 100] * 20
    return result


def test_the_schemas_are_strict_enough_to_catch_a_wrong_file(result):
    data = json.loads(formats.gradescope(result))
    data["tests"][0]["visibility"] = "sometimes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMAS["gradescope"])
    data = json.loads(formats.exercism(result))
    data["message"] = "a message with status fail"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMAS["exercism"])


def test_gradescope_results_validate_and_add_up(result):
    data = validate("gradescope", formats.gradescope(result))
    exercise = result.exercises[0]
    assert data["score"] == exercise.score
    assert round(sum(t["max_score"] for t in data["tests"])) == 100
    assert [t["status"] for t in data["tests"]] == ["passed", "failed", "failed"]
    assert [t["visibility"] for t in data["tests"]] == ["visible", "visible", formats.HIDDEN_VISIBILITY]
    assert data["tests"][1]["name"] == "lock: only one buyer is inside buy() at a time"
    assert data["output"] == "lock: 1/2 visible checks passed; more checks are graded and shown after the due date."
    assert "execution_time" not in data
    first_hidden = copy.deepcopy(result)
    first_hidden.exercises[0].checks[0].visibility, first_hidden.exercises[0].checks[2].visibility = "hidden", "public"
    numbers = {t["tags"][1]: t["number"] for t in json.loads(formats.gradescope(first_hidden))["tests"]}
    checks = first_hidden.exercises[0].checks
    assert [numbers[c.name] for c in checks] == ["1.3", "1.1", "1.2"]  # no gap shows where a hidden check is
    result.exercises[0].checks[2].visibility = "public"
    public = json.loads(formats.gradescope(result))
    assert public["output"] == f"lock: 1/3 checks passed, score {result.exercises[0].score}/100"
    assert public["execution_time"] == round(result.seconds)
    assert "3 buyers were inside buy() at the same time" in data["tests"][1]["output"]


def test_exercism_results_validate(result):
    data = validate("exercism", formats.exercism(result))
    assert (data["version"], data["status"], data["message"]) == (3, "fail", None)
    tests = data["tests"]
    assert [t["status"] for t in tests] == ["pass", "fail", "fail"]
    assert tests[0]["message"] is None
    assert tests[0]["test_code"].startswith("_, _, trace = sell(student, tickets=2, buyers=3)\n")
    assert "def " not in tests[0]["test_code"] and "@check" not in tests[0]["test_code"]
    assert "hidden" in tests[2]["test_code"] and "def " not in tests[2]["test_code"]
    assert tests[2]["output"].endswith(formats.EXERCISM_CUT) and len(tests[2]["output"]) <= 500


def test_exercism_output_is_what_the_program_printed_cut_with_the_specs_note(result):
    printing = copy.deepcopy(result)
    printing.exercises[0].checks[0].runs[0].output = "searching...\n"
    printing.exercises[0].checks[1].runs[1].output = "x" * 1500
    tests = validate("exercism", formats.exercism(printing))["tests"]
    assert tests[0]["output"] == "searching..."
    assert len(tests[1]["output"]) == 500 and tests[1]["output"].endswith("\n" + formats.EXERCISM_CUT)
    assert "output" not in tests[2] or not tests[2]["output"].startswith("x")
    again = GradeResult.from_json(printing.to_json())
    assert again.exercises[0].checks[0].runs[0].output == "searching...\n"


def test_exercism_says_error_when_nothing_ran():
    data = validate("exercism", formats.exercism(GradeResult()))
    assert data["status"] == "error" and data["message"]


def test_exercism_says_error_when_the_program_cannot_be_loaded(result):
    broken = copy.deepcopy(result)
    for check in broken.exercises[0].checks:
        for run in check.runs:
            run.passed = False
            run.failure = Failure(kind="crash", summary="sell(db, 3) raised SyntaxError: invalid syntax (tickets.py, "
                                                        "line 94)")
    data = validate("exercism", formats.exercism(broken))
    assert data["status"] == "error"
    assert "could not be loaded" in data["message"] and "tickets.py, line 94" in data["message"]
    assert {t["status"] for t in data["tests"]} == {"error"}
    # One check that crashed for another reason: the tests ran, and the verdict is theirs.
    broken.exercises[0].checks[0].runs[0].failure = Failure(kind="crash", summary="sell() raised ZeroDivisionError")
    data = validate("exercism", formats.exercism(broken))
    assert (data["status"], data["message"]) == ("fail", None)


def test_a_crash_is_an_error_in_exercism_and_junit(result):
    crashed = copy.deepcopy(result)
    crashed.exercises[0].checks[1].runs[1].failure = Failure(kind="crash", summary="sell() raised ZeroDivisionError")
    assert validate("exercism", formats.exercism(crashed))["tests"][1]["status"] == "error"
    suite = ET.fromstring(formats.junit(crashed)).find("testsuite")
    assert suite.get("errors") == "1" and suite.get("failures") == "1"


def test_feedback_is_capped_and_says_so(result):
    text = formats.feedback(result.exercises[0].checks[1])
    assert len(text) == formats.FEEDBACK_CAP
    assert text.splitlines()[-1].startswith("[... feedback cut:")
    assert formats.cap("short") == "short"


def test_junit_is_valid_for_the_jenkins_xunit_schema_and_names_the_students_line(result):
    text = formats.junit(result)
    JUNIT.validate(text)
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "0")
    suite = root.find("testsuite")
    assert suite.get("file") == "exercises/lock/tickets.py"
    cases = suite.findall("testcase")
    assert [c.find("failure") is not None for c in cases] == [False, True, True]
    assert cases[1].find("failure").get("message") == "3 buyers were inside buy() at the same time"
    assert cases[2].find("failure").text.endswith("\n at exercises/lock/tickets.py:64")  # "stuck at tickets.py:64"
    assert not cases[1].find("failure").text.rstrip().endswith(":64")
    assert not root.findall(".//testcase/properties")
    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert properties["releases_lock_when_sold_out.visibility"] == "hidden"
    assert properties["buy_is_exclusive.visibility"] == "public"


def test_the_junit_schema_is_strict_enough_to_catch_a_wrong_file(result):
    wrong = formats.junit(result).replace('<testcase ', '<testcase line="3" ', 1)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        JUNIT.validate(wrong)


def test_classroom_results_give_the_reporter_its_points(result):
    data = validate("classroom", formats.classroom(result))
    assert (data["version"], data["status"], data["max_score"]) == (1, "fail", 100)
    assert [t["status"] for t in data["tests"]] == ["pass", "fail", "fail"]
    # The reporter's "Points X/Y": the tests' scores added up, over max_score.
    every = copy.deepcopy(result)
    for check in every.exercises[0].checks:
        for run in check.runs:
            run.passed, run.failure = True, None
    passed = validate("classroom", formats.classroom(every))
    assert (passed["status"], sum(t["score"] for t in passed["tests"]), passed["max_score"]) == ("pass", 100, 100)
    assert sum(t["score"] for t in data["tests"]) == passed["tests"][0]["score"] > 0
    assert data["tests"][2]["line_no"] == 64 and data["tests"][2]["filename"] == "exercises/lock/tickets.py"
    assert data["tests"][1]["test_code"] == "nox -s grade -- lock --checks buy_is_exclusive"


def test_the_command_writes_every_format(tmp_path):
    """`grade --gradescope/--exercism/--junit` write the files from one grading."""
    import subprocess
    import sys

    from graders.engine.manifest import KIT
    files = {name: tmp_path / formats.FILE_NAMES[name] for name in formats.FORMATS}
    done = subprocess.run([sys.executable, "-m", "graders", "grade", "lock", "--quick", "--checks", "buy_is_exclusive",
                           *[a for name, path in files.items() for a in (f"--{name}", str(path))]],
                          cwd=KIT, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert validate("gradescope", files["gradescope"].read_text())["score"] == 0
    assert validate("exercism", files["exercism"].read_text())["status"] == "fail"
    JUNIT.validate(files["junit"].read_text())
    assert ET.fromstring(files["junit"].read_text()).get("failures") == "1"
    assert validate("classroom", files["classroom"].read_text())["status"] == "fail"
