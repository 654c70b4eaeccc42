"""A Manager's locks, traced like the program's own (`locktrace.py`).

A Manager's Lock, RLock, Semaphore, BoundedSemaphore or Condition lives in the
manager's process; the program holds a proxy, whose acquire() and release()
the manager carries out for it. Who holds the lock is still the program's
thread that called acquire(), so the proxy is what is traced: `trace(module)`
wraps the proxies the student's code makes (and those in the module's globals
already), and each pause then tells the grader that its thread holds them,
under the names the student gave them, with a key the manager's token makes the
same in every process.
"""
from __future__ import annotations

import multiprocessing.managers as managers
import os
import sys

from graders.child import locktrace

_KINDS = ("Lock", "RLock", "Semaphore", "BoundedSemaphore", "Condition")
_ORIGINAL = {kind: getattr(managers.SyncManager, kind) for kind in _KINDS}


def trace(module) -> None:
    """Make the student's Manager locks traced ones, from now on and in `module`'s globals."""
    for kind in _KINDS:
        setattr(managers.SyncManager, kind, _factory(kind))
    wrapped = {}
    for name, value in list(vars(module).items()):
        if isinstance(value, TracedProxyLock):
            continue
        if isinstance(value, managers.AcquirerProxy) and value._token.typeid in _KINDS:
            if id(value) not in wrapped:
                wrapped[id(value)] = TracedProxyLock(value, value._token.typeid, [name])
            else:
                wrapped[id(value)].names.append(name)
            setattr(module, name, wrapped[id(value)])


def _factory(kind):
    original = _ORIGINAL[kind]

    def make(self, *args, **kwargs):
        inner = original(self, *args, **kwargs)
        caller = sys._getframe(1)
        if not locktrace._is_student(caller.f_code.co_filename):
            return inner
        value = (args[0] if args else kwargs.get("value", 1)) if kind in locktrace.SEMAPHORES else None
        return TracedProxyLock(inner, kind, locktrace._names_at(caller, kind), value if type(value) is int else None)
    make.__name__ = make.__qualname__ = kind
    return make


class TracedProxyLock(locktrace.TracedLock):
    """A proxy of a Manager's lock: held by the thread whose acquire() the manager granted."""

    shared = True

    def __init__(self, inner, kind, names, value=None):
        # A Manager's Condition is a Condition over an RLock of the manager's.
        super().__init__(inner, "RLock" if kind == "Condition" else kind, names, value)
        token = inner._token
        self._key = f"p{token.address}:{token.id}"

    def key(self) -> str:
        return self._key

    def acquire(self, blocking=True, timeout=None):
        if not blocking and timeout is not None:
            return self._inner.acquire(blocking, timeout)  # raises in the manager, as the lock does
        return self._acquire(blocking, -1 if timeout is None else timeout, forever=timeout is None)

    def _try(self):
        return self._inner.acquire(False)

    def _wait(self, timeout, forever):
        return self._inner.acquire() if forever else self._inner.acquire(True, timeout)

    # A Condition's wait() lets go of the lock in the manager until it is woken: so does the trace.
    def wait(self, timeout=None):
        return self._waiting(self._inner.wait, timeout)

    def wait_for(self, predicate, timeout=None):
        return self._waiting(self._inner.wait_for, predicate, timeout)

    def _waiting(self, call, *args):
        tid, thread = locktrace._me()
        with locktrace._state:
            held = locktrace._holds.pop(self, None)
            locktrace._flush()
        try:
            return call(*args)
        finally:
            if held is not None:
                with locktrace._state:
                    locktrace._holds[self] = dict(held, tid=tid, thread=thread)
                    locktrace._flush()

    def __reduce__(self):
        return _rebuild, (self._inner, self.kind, self.names, locktrace._student, self.value)


def _rebuild(inner, kind, names, student, value=None):
    """In another process: the traced proxy again, writing to that process's file."""
    if not isinstance(inner, managers.BaseProxy):
        return inner  # unpickled in the manager itself: the lock, not a proxy
    if locktrace._student is None:
        locktrace._student = student
        locktrace._folder = os.environ.get("KIT_STACKS_DIR")
        locktrace._inside_cache.clear()
    return TracedProxyLock(inner, kind, names, value)
