"""The workflows: both lint clean with actionlint and zizmor (offline), pin every action to a commit, keep
no credentials, and the Classroom one follows Classroom's autograding conventions."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from graders.engine.manifest import KIT

WORKFLOWS = [KIT / ".github" / "workflows" / "tests.yml", KIT / "templates" / "classroom" / "grade.yml"]
BIN = Path(sys.executable).parent


def tool(name: str, *args: str, files=WORKFLOWS) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / name), *args, *map(str, files)], capture_output=True, text=True, cwd=KIT)


@pytest.mark.parametrize("name, args", [("actionlint", ()), ("zizmor", ("--offline", "--no-progress"))])
def test_the_workflows_lint_clean(name, args):
    done = tool(name, *args)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name, args", [("actionlint", ()), ("zizmor", ("--offline", "--no-progress"))])
def test_the_linters_catch_a_wrong_workflow(tmp_path, name, args):
    wrong = tmp_path / "wrong.yml"
    wrong.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                     "      - uses: actions/checkout@v4\n"
                     "      - run: echo ${{ github.event.head_commit.message }}\n")
    assert tool(name, *args, files=[wrong]).returncode != 0


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_and_no_checkout_keeps_credentials(path):
    text = path.read_text()
    uses = re.findall(r"uses:\s*(\S+)", text)
    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    checkouts = text.count("actions/checkout@")
    assert checkouts and text.count("persist-credentials: false") == checkouts


def test_the_classroom_workflow_follows_classrooms_conventions():
    text = (KIT / "templates" / "classroom" / "grade.yml").read_text()
    assert re.search(r"^name: Autograding Tests$", text, re.M)
    on = text.split("\non:\n", 1)[1].split("\npermissions:", 1)[0]
    assert {"push:", "workflow_dispatch:", "repository_dispatch:"} <= set(on.split())
    assert re.search(r"^\s+checks: write\b", text, re.M)
    assert "if: github.actor != 'github-classroom[bot]'" in text
    # The reporter reads <RUNNER>_RESULTS for each runner: the grading step's id, and its base64 `result`.
    step = re.search(r"id: (\w+)", text)[1]
    assert re.search(rf"runners: {step}$", text, re.M)
    assert f"{step.upper()}_RESULTS: ${{{{ steps.{step}.outputs.result }}}}" in text
    assert re.search(r'echo "result=\$\(base64 -w0 results/classroom.json\)" >> "\$GITHUB_OUTPUT"', text)
    assert "--classroom results/classroom.json" in text
