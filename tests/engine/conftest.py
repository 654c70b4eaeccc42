"""Fixtures for engine tests: a tiny student module run through the real engine."""
import textwrap

import pytest

from graders.engine.manifest import KIT
from graders.engine.run import run_probe


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
