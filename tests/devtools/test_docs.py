"""The READMEs and the instructors' guide name files that exist: a path in backquotes that looks like
one of the kit's (graders/..., tests/..., exercises/<real name>/...) must be there."""
import re

import pytest

from graders.engine import manifest
from graders.engine.manifest import KIT

DOCS = ["README.md", "graders/README.md", "docs/instructors.md"]
# Folders a path in the docs may start from: the kit's root, and graders/ for the authoring guide.
ROOTS = [KIT, KIT / "graders"]
TOP = ("graders/", "tests/", "exercises/", "solutions/", "templates/", "docs/", "engine/", "child/", "sandbox/",
       "cli/", "classroom/", "devtools/")
PATH = re.compile(r"`([A-Za-z0-9_./-]+)`")


def named_paths(text: str) -> list[str]:
    """Paths in backquotes that name the kit's own files, placeholders (NAME, STUB) left out."""
    found = []
    for candidate in PATH.findall(text):
        if not candidate.startswith(TOP) or re.search(r"NAME|STUB|EXERCISE", candidate):
            continue
        found.append(candidate.split("#")[0])
    return found


@pytest.mark.parametrize("doc", DOCS)
def test_every_file_a_document_names_exists(doc):
    text = (KIT / doc).read_text()
    paths = named_paths(text)
    assert paths, f"{doc} names no file of the kit: the pattern no longer finds them"
    missing = [p for p in paths if not any((root / p.rstrip("/")).exists() for root in ROOTS)]
    assert not missing, f"{doc} names files that are not there: {missing}"


def test_every_exercise_is_in_the_readmes_table():
    readme = (KIT / "README.md").read_text()
    assert [name for name in manifest.load() if f"`{name}`" not in readme] == []
