"""The benchmark runs and writes its report; its numbers are never asserted."""
import json
import subprocess
import sys

from graders.engine.manifest import KIT


def test_the_benchmark_writes_a_markdown_and_a_json_report(tmp_path):
    done = subprocess.run([sys.executable, "-m", "graders.devtools.bench", "--sections", "hang,floor", "--repeat", "1",
                           "--out", str(tmp_path)], cwd=KIT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert {r["start_method"] for r in report["floor"]} == {"fork", "spawn", "forkserver"}
    assert [r["value"] for r in report["hang"]] == ["deadline", "stuck"]
    markdown = (tmp_path / "report.md").read_text()
    assert "## The floor" in markdown and "## Hung submissions" in markdown


def test_bad_arguments_are_usage_errors(tmp_path):
    done = subprocess.run([sys.executable, "-m", "graders.devtools.bench", "--sections", "nosuch", "--out", str(tmp_path)],
                          cwd=KIT, capture_output=True, text=True)
    assert done.returncode == 2
    assert not (tmp_path / "report.json").exists()


def test_the_batch_figures_come_from_the_batch_command_on_pinned_cores(tmp_path):
    done = subprocess.run([sys.executable, "-m", "graders.devtools.bench", "--sections", "batch", "--exercises", "lock",
                           "--cores", "1", "--sizes", "1", "--out", str(tmp_path)],
                          cwd=KIT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [row] = json.loads((tmp_path / "report.json").read_text())["batch"]
    assert (row["cores"], row["jobs"], row["submissions"], row["all_passed"]) == (1, 1, 1, True)
    assert "## Batch throughput" in (tmp_path / "report.md").read_text()


def test_the_blocked_section_reports_hangs_against_their_bound():
    from graders.devtools import bench
    row = {"exercise": "lock", "median": 9.1, "min": 9.0, "max": 9.3, "runs": 13, "hung": 6, "skipped": 7, "bound": 6}
    text = bench.markdown({"when": "now", "repeat": 1, "machine": "m", "blocked": [row]})
    assert "## A submission that blocks in every call" in text and "| lock | 9.1 | 9.0 to 9.3 | 13 | 6 | 7 | 6 |" in text
