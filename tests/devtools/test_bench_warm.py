"""The bench's sections for watch mode and for every solution in one command run and give figures,
each with its ratio to the floor of the same run; the figures themselves are never asserted."""
import json
import subprocess
import sys

from graders.engine.manifest import KIT


def test_the_watch_and_together_sections_give_figures_against_the_floor(tmp_path):
    done = subprocess.run([sys.executable, "-m", "graders.devtools.bench", "--sections", "floor,together,watch",
                           "--exercises", "lock", "--repeat", "1", "--out", str(tmp_path)],
                          cwd=KIT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert [r["mode"] for r in report["together"]] == ["full", "quick"]
    for row in report["together"]:
        assert row["exercises"] == ["lock"] and row["value"] is True
        assert row["median"] > 0 and row["floor"] > 0 and row["floor_ratio"] > 0
    [row] = report["watch"]
    assert row["exercise"] == "lock" and row["passed"] is True
    assert 0 < row["first_verdict"] <= row["whole"]
    assert row["first_floor_ratio"] > 0 and row["whole_floor_ratio"] > 0
    markdown = (tmp_path / "report.md").read_text()
    assert "## Every solution in one command" in markdown and "## Watch mode, warm" in markdown
