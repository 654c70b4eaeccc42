"""A grading pytest process gets its settings as one file, read back exactly, and private to the grader."""
import stat

from graders.engine.settings import START_METHODS, Settings


def test_settings_survive_the_file_and_only_the_grader_reads_it(tmp_path):
    chosen = Settings(stage="/s", results="/r.json", progress="/p", methods=("spawn",), quick=True,
                      checks=("buy_is_exclusive",), part=1, parts=2)
    chosen.write(tmp_path / "settings.json")
    assert Settings.read(tmp_path / "settings.json") == chosen
    assert stat.S_IMODE((tmp_path / "settings.json").stat().st_mode) == 0o600


def test_the_defaults_grade_every_check_under_every_start_method():
    chosen = Settings(stage="/s", results="/r.json")
    assert (chosen.methods, chosen.checks, chosen.quick, chosen.part, chosen.parts) == (START_METHODS, (), False, 0, 1)
