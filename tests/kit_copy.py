"""A copy of the kit's content in a temporary folder, for tests that change exercises."""
import shutil
from pathlib import Path

from graders.engine.manifest import KIT


def copy_kit(target: Path) -> Path:
    """exercises.toml, README.md, exercises/, solutions/ and graders/ copied into `target`, which is returned."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("exercises", "solutions", "graders"):
        shutil.copytree(KIT / folder, target / folder, ignore=ignore)
    for name in ("exercises.toml", "README.md"):
        shutil.copy2(KIT / name, target / name)
    return target
