"""The `pause` callable that graders pass into student code.

It runs inside the student's processes and threads. Each call tells the grader
which stage this thread has reached, then waits until the grader lets it go on.
That is how a grader forces an interleaving without a single sleep: while a
thread waits here, the grader decides who moves next.

It holds only a socket path, so it pickles under fork, spawn and forkserver,
and it connects afresh on every call, so a forked child never shares a socket
with its parent.
"""
import json
import os
import socket
import sys
import threading


class Pause:
    def __init__(self, address: str):
        self.address = address

    def __call__(self, stage="", *args, **kwargs):
        message = {
            "pid": os.getpid(),
            "tid": threading.get_native_id(),
            "thread": threading.current_thread().name[:100],  # all the grader keeps; a long one overran MAX_MESSAGE
            "stage": str(stage)[:200],
            "locks": _held_locks(),
        }
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(self.address)
            sock.sendall(json.dumps(message).encode() + b"\n")
            sock.recv(16)  # the grader answers when this thread may go on

    def __repr__(self):
        return "pause"


def _held_locks() -> list:
    """The traced locks this thread holds (locktrace), so the grader sees who held what at each stage."""
    tracing = sys.modules.get("graders.child.locktrace")  # loaded only by probes that trace
    return tracing.held_by_me() if tracing is not None else []
