"""Reading what the submission could have written, in the grading process.

The grader may run as root, and the student's processes can replace any file
in the folders handed to them (a ticket file, a stack dump, a result, a log)
with a link to a file they cannot read, a FIFO that never answers, a device
that never ends, or JSON nested deeper than Python recurses. So such a file
is opened only where no part of its path is a link, only if it is a regular
file, without blocking, and read up to a cap; its JSON is parsed only if it
nests no deeper than a bound. What fails these tests is the submission's
doing: the reader returns None (or raises ValueError) and the check says so.
"""
from __future__ import annotations

import json
import os
import re
import stat

MAX_DEPTH = 100  # nesting of JSON from the child: the kit's own data nests a few levels


def read_bytes(path, cap: int) -> bytes | None:
    """At most `cap` bytes of a regular file reached through no link; None otherwise.

    Reads `cap + 1` bytes at most, so a caller can tell a file that was cut.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.realpath(path) != path:  # a link somewhere on the way
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_text(path, cap: int) -> str | None:
    """The text of `read_bytes` (invalid UTF-8 replaced), cut at `cap`; None where it cannot be read."""
    data = read_bytes(path, cap)
    return None if data is None else data[:cap].decode(errors="replace")


def loads(text: str | bytes, max_depth: int = MAX_DEPTH):
    """json.loads, refusing (ValueError) text that nests deeper than `max_depth`."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    if nesting(text) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except RecursionError:  # cannot happen within the bound; a last net all the same
        raise ValueError("JSON nested too deep") from None


def nesting(text: str) -> int:
    """How deep the brackets of JSON text nest, outside its strings."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")
