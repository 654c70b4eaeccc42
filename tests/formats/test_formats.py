"""Results files: Gradescope's and Exercism's validate against their published formats
(tests/formats/*.schema.json), JUnit XML is well formed, and feedback is capped."""
import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from graders.engine import formats
from graders.engine.results import Failure, GradeResult

HERE = Path(__file__).parent
GOLDEN = HERE.parent / "engine" / "golden" / "lock-stub.json"
SCHEMAS = {name: json.loads((HERE / f"{name}.schema.json").read_text()) for name in ("gradescope", "exercism")}


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
    result.exercises[0].checks[2].visibility = "public"
    assert json.loads(formats.gradescope(result))["output"] == f"lock: 1/3 checks passed, score {result.exercises[0].score}/100"
    assert "3 buyers were inside buy() at the same time" in data["tests"][1]["output"]


def test_exercism_results_validate(result):
    data = validate("exercism", formats.exercism(result))
    assert (data["version"], data["status"], data["message"]) == (3, "fail", None)
    tests = data["tests"]
    assert [t["status"] for t in tests] == ["pass", "fail", "fail"]
    assert tests[0]["message"] is None
    assert "def test_search_is_concurrent" in tests[0]["test_code"]
    assert "hidden" in tests[2]["test_code"] and "def " not in tests[2]["test_code"]
    assert tests[2]["output"].endswith(formats.EXERCISM_CUT) and len(tests[2]["output"]) <= 500


def test_exercism_says_error_when_nothing_ran():
    data = validate("exercism", formats.exercism(GradeResult()))
    assert data["status"] == "error" and data["message"]


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


def test_junit_counts_every_check(result):
    root = ET.fromstring(formats.junit(result))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "0")
    cases = root.findall("testsuite/testcase")
    assert [c.find("failure") is not None for c in cases] == [False, True, True]
    assert cases[1].find("failure").get("message") == "3 buyers were inside buy() at the same time"
    visibility = {p.get("name"): p.get("value") for p in cases[2].findall("properties/property")}["visibility"]
    assert visibility == "hidden"


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
    assert ET.fromstring(files["junit"].read_text()).get("failures") == "1"
