"""Shared by every test folder: the kit on the path, and `program`, a tiny student module run through the real engine."""
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from graders.engine.manifest import KIT  # noqa: E402  (after the path is set)
from graders.engine.run import run_probe  # noqa: E402


@pytest.fixture
def program(tmp_path):
    """program(source) -> run(probe, **params): run `prog.<probe>` from that source in a child."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "graders").symlink_to(KIT / "graders")
    student = tmp_path / "student"
    student.mkdir()

    def make(source, deadline=10.0, start_method="forkserver"):
        (student / "prog.py").write_text(textwrap.dedent(source))

        def run(probe, choose=None, **params):
            return run_probe(probe=f"prog:{probe}", module="prog", submission=str(student), lib=str(lib),
                             params=params, start_method=start_method, deadline=deadline, choose=choose)
        return run
    return make
