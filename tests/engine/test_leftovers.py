"""A grading leaves nothing in the temporary folder: not its stage, not the run
folders, not the files the graders made for the program (the lock grader's
ticket files, say), sandboxed or not."""
import os
import shutil
import tempfile

import pytest

from graders.engine import manifest
from graders.engine.grading import grade


@pytest.fixture
def scratch(monkeypatch):
    """An empty temporary folder for this process and every process it starts.

    Under /tmp itself, mode 711: the sandbox user must pass through it, as it
    passes through /tmp, to reach its run folders.
    """
    folder = tempfile.mkdtemp(prefix="kit-test-scratch-", dir="/tmp")
    os.chmod(folder, 0o711)
    monkeypatch.setattr(tempfile, "tempdir", folder)
    monkeypatch.setenv("TMPDIR", folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("sandbox", ["", "off"])
def test_a_grading_leaves_nothing_in_the_temporary_folder(scratch, monkeypatch, sandbox):
    monkeypatch.setenv("KIT_SANDBOX", sandbox)
    lock = manifest.load()["lock"]
    result = grade([lock], sources={"lock": lock.solution_dir / lock.stub}, methods=["forkserver"], quick=True,
                   checks=["search_is_concurrent", "sells_every_ticket_once"])
    assert result.passed
    assert os.listdir(scratch) == []
