"""Files written whole: a temporary file beside the target, then a rename, so an
interrupted command never leaves half a file behind (a reader sees the old file
or the new one)."""
from __future__ import annotations

from pathlib import Path


def write_whole(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(text)
    partial.replace(path)
