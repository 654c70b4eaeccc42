"""/proc/PID/stat, read once here: its fields after the command name, which may hold
spaces and parentheses of its own (a process names itself), so it is cut at the last ')'."""
from __future__ import annotations

STATE, PARENT, THREADS = 0, 1, 17  # indexes into stat_fields(): proc(5)'s fields 3, 4 and 20


def stat_fields(pid: int | str, tid: int | str | None = None) -> list[bytes] | None:
    """The fields of a process's (or one of its threads') stat, from its state on; None if it is gone."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2:].split()
