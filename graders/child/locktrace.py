"""Traced locks, so that a hang can be told as a deadlock in words.

Like Java's ThreadMXBean.findDeadlockedThreads(), the engine keeps a wait-for
graph: which thread holds which lock (and where it took it), and which thread
waits for which lock. When a run hangs, a cycle in that graph is the deadlock:

    Thread-1 holds lock_A (shop.py:40) and waits for lock_B (shop.py:42);
    Thread-2 holds lock_B (shop.py:48) and waits for lock_A (shop.py:50)

Child side (in a probe): `trace(student_module)` swaps the module's global
locks for traced ones, named after their globals (a global Condition's lock
too, under the Condition's names), and makes `threading`'s and
`multiprocessing`'s Lock, RLock, Semaphore and BoundedSemaphore return traced
ones when the student's own code calls them (named after the variable on the
line that made them). Locks made by anything else, the standard library
included, stay untouched. A semaphore counts as a lock held by every thread
that took it and has not given it back.

`held_by_me()` lists the traced locks the calling thread holds: `pause`
(`pause.py`) sends it with every arrival, so the grader knows who held which
lock, taken where, at each stage (`Arrival.locks`, a tuple of `Held`).

The graph travels in files, not messages, because a deadlocked process cannot
answer: each process rewrites `locks-PID.json` in the run's stacks folder
whenever the part of the graph that matters changes, which is whenever a thread
starts or stops waiting, or a lock with a waiter (or shared between processes)
changes hands. Uncontended acquires never touch the disk.

The grading process reads those files after a hang and tells the deadlocks
in words: engine/lockgraph.py, which shares nothing with this module but the
files' format (FILE_PATTERN, KINDS).
"""
from __future__ import annotations

import _thread
import json
import linecache
import multiprocessing
import multiprocessing.context
import multiprocessing.synchronize
import os
import re
import sys
import threading

from graders.child import timed

FILE_PATTERN = "locks-*.json"


_THREAD_LOCK = type(_thread.allocate_lock())
_THREAD_RLOCK = type(threading.RLock())
KINDS = ("Lock", "RLock", "Semaphore", "BoundedSemaphore")  # what may be traced; a lock file names one of these
SEMAPHORES = ("Semaphore", "BoundedSemaphore")
_ORIGINAL = {kind: getattr(threading, kind) for kind in KINDS}
_ORIGINAL_MP = {kind: getattr(multiprocessing.context.BaseContext, kind) for kind in KINDS}
_CONDITION, _CONDITION_MP = threading.Condition, multiprocessing.context.BaseContext.Condition
_TARGET = r"(?:self\.)?(\w+)(?:\s*:[^=]+)?\s*=(?!=)\s*"
_ASSIGNED = re.compile(rf"^\s*((?:{_TARGET})+)")  # `lock_A = lock_B = ...`: every name it gets

_state = _thread.RLock()  # re-entrant: a signal handler may take a traced lock while we hold it
_student: str | None = None  # the folder of the student's code: acquire sites are taken there
_folder: str | None = None  # where this process writes its part of the graph
_holds: dict = {}  # traced lock, or (semaphore, tid) -> {"tid", "thread", "site", "count"}
_waits: dict = {}  # native thread id -> {"lock", "thread", "site"}
_inside_cache: dict[str, bool] = {}


def trace(module, folder: str | None = None) -> None:
    """Trace the locks of `module` (the student's) and of the code in its folder."""
    global _student, _folder
    _student = os.path.dirname(os.path.realpath(module.__file__))
    _folder = folder or os.environ.get("KIT_STACKS_DIR")
    _inside_cache.clear()
    _patch_factories()
    _wrap_globals(module)
    from graders.child import lockproxies  # a Manager's locks too; it builds on this module
    lockproxies.trace(module)


def _patch_factories():
    for kind in KINDS:
        setattr(threading, kind, _thread_factory(kind))
        setattr(multiprocessing.context.BaseContext, kind, _shared_factory(kind))
        # `multiprocessing.Lock` is a method bound to the default context at import: bind it again.
        setattr(multiprocessing, kind, getattr(multiprocessing.context._default_context, kind))
    threading.Condition = _thread_condition
    multiprocessing.context.BaseContext.Condition = _shared_condition
    multiprocessing.Condition = multiprocessing.context._default_context.Condition


class _Factory:
    """Stands in for threading's Lock, RLock, Semaphore, BoundedSemaphore or Condition while they are traced.

    Calling it makes one (traced when the student's code calls it). To isinstance(), issubclass()
    and a class statement it is the real one, so a program that checks what its locks are, or
    subclasses threading.Semaphore, works as it does untraced.
    """

    def __init__(self, kind, original, make):
        self.__name__ = self.__qualname__ = kind
        # Pickled by reference as threading.Lock (a Manager's registry made after trace() holds it):
        # another process unpickles the real one.
        self.__module__ = "threading"
        self._original, self._make = original, make
        if isinstance(original, type):
            self.__bases__ = original.__bases__  # what issubclass() looks at when this is its first argument
            # threading's BoundedSemaphore calls `Semaphore.__init__(self, value)`: the real one's.
            self.__dict__["__init__"] = original.__init__

    def __getattr__(self, name):  # `Semaphore.acquire` and the like: the real class's
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._original, name)

    def __call__(self, *args, **kwargs):
        return self._make(sys._getframe(1), *args, **kwargs)

    def __instancecheck__(self, obj):
        return isinstance(obj, self._original)  # a TypeError where the real one is a function, as untraced

    def __subclasscheck__(self, cls):
        return issubclass(cls._original if isinstance(cls, _Factory) else cls, self._original)

    def __mro_entries__(self, bases):
        return (self._original,)

    def __reduce__(self):
        return self.__name__

    def __repr__(self):
        return repr(self._original)


def _make_condition(caller, lock=None):
    """threading.Condition: one the student's code makes without a lock gets a traced RLock."""
    if lock is None and _is_student(caller.f_code.co_filename):
        lock = TracedLock(_ORIGINAL["RLock"](), "RLock", _names_at(caller, "Condition"))
    return _CONDITION(lock)


_thread_condition = _Factory("Condition", _CONDITION, _make_condition)


def _shared_condition(self, lock=None):
    caller = sys._getframe(1)
    if lock is None and _is_student(caller.f_code.co_filename):
        lock = TracedSharedLock(_ORIGINAL_MP["RLock"](self), "RLock", _names_at(caller, "Condition"))
    return _CONDITION_MP(self, lock)


def _thread_factory(kind):
    original = _ORIGINAL[kind]

    def make(caller, *args, **kwargs):
        inner = original(*args, **kwargs)
        if not _is_student(caller.f_code.co_filename):
            return inner
        return TracedLock(inner, kind, _names_at(caller, kind), _value(inner, kind))
    return _Factory(kind, original, make)


def _shared_factory(kind):
    original = _ORIGINAL_MP[kind]

    def make(self, *args, **kwargs):
        inner = original(self, *args, **kwargs)
        caller = sys._getframe(1)
        if not _is_student(caller.f_code.co_filename):
            return inner
        return TracedSharedLock(inner, kind, _names_at(caller, kind), _value(inner, kind))
    make.__name__ = make.__qualname__ = kind
    return make


def _wrap_globals(module):
    """Swap the module's locks for traced ones, and its imported factories for ours."""
    factories = {id(threading._allocate_lock): threading.Lock, id(_CONDITION): threading.Condition}
    factories.update({id(_ORIGINAL[kind]): getattr(threading, kind) for kind in KINDS})
    wrapped = {}
    for name, value in list(vars(module).items()):
        if id(value) in factories:
            setattr(module, name, factories[id(value)])
        elif _is_mp_factory(value):
            setattr(module, name, getattr(value.__self__, value.__name__))
        elif isinstance(value, TracedLock):
            continue  # traced already
        elif isinstance(value, (_THREAD_LOCK, _THREAD_RLOCK, _ORIGINAL["Semaphore"],
                                multiprocessing.synchronize.SemLock)):
            if id(value) not in wrapped:
                wrapped[id(value)] = _wrap(value, name)
            else:
                wrapped[id(value)].names.append(name)
            setattr(module, name, wrapped[id(value)])
    for name, value in list(vars(module).items()):
        # A Condition made at import holds its lock itself: trace that lock, under the Condition's names.
        if isinstance(value, _CONDITION) and not isinstance(value._lock, TracedLock):
            inner = value._lock
            if id(inner) not in wrapped:
                wrapped[id(inner)] = _wrap(inner, name)
            value.__init__(wrapped[id(inner)])  # made at import: nobody waits on it yet
        if isinstance(value, _CONDITION) and name not in value._lock.names:
            value._lock.names.append(name)


def _is_mp_factory(value) -> bool:
    return (getattr(value, "__func__", None) in (*_ORIGINAL_MP.values(), _CONDITION_MP)
            and isinstance(getattr(value, "__self__", None), multiprocessing.context.BaseContext))


def _wrap(lock, name):
    if isinstance(lock, multiprocessing.synchronize.SemLock):
        kind = next(k for k in ("BoundedSemaphore", "Semaphore", "RLock", "Lock")
                    if isinstance(lock, getattr(multiprocessing.synchronize, k)))
        return TracedSharedLock(lock, kind, [name], _value(lock, kind))
    kind = ("RLock" if isinstance(lock, _THREAD_RLOCK) else "BoundedSemaphore"
            if isinstance(lock, _ORIGINAL["BoundedSemaphore"]) else "Semaphore"
            if isinstance(lock, _ORIGINAL["Semaphore"]) else "Lock")
    return TracedLock(lock, kind, [name], _value(lock, kind))


def _value(lock, kind) -> int | None:
    """How many threads a semaphore lets in when it is made (None for a lock)."""
    if kind not in SEMAPHORES:
        return None
    try:
        return int(lock.get_value() if hasattr(lock, "get_value") else lock._value)
    except (AttributeError, NotImplementedError, OSError, TypeError, ValueError):
        return None


def _names_at(frame, kind) -> list[str]:
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    match = _ASSIGNED.match(line)
    if match:
        return re.findall(_TARGET, match[1])
    return [f"the {kind} made at {os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"]


def _is_student(filename: str) -> bool:
    found = _inside_cache.get(filename)
    if found is None:
        path = os.path.realpath(filename)
        found = _student is not None and path.startswith(_student + os.sep)
        _inside_cache[filename] = found
    return found


def _site():
    """The student's innermost line on this thread's stack: [file, line], or None."""
    frame = sys._getframe(2)
    while frame is not None:
        if _is_student(frame.f_code.co_filename):
            return [frame.f_code.co_filename, frame.f_lineno]
        frame = frame.f_back
    return None


def _me():
    return threading.get_native_id(), threading.current_thread().name


class TracedLock:
    """A threading Lock or RLock that reports its holder and its waiters."""

    shared = False

    def __init__(self, inner, kind, names, value=None):
        self._inner = inner
        self.kind = kind
        self.names = names
        self.value = value  # a semaphore's initial value

    @property
    def multi(self) -> bool:
        """A semaphore: several threads may hold it at once, and any thread may release it."""
        return self.kind in SEMAPHORES

    def _hold_key(self, tid):
        return (self, tid) if self.multi else self

    def key(self) -> str:
        return f"t{os.getpid()}:{id(self)}"

    def acquire(self, blocking=True, timeout=-1):
        if self.multi:  # threading.Semaphore: timeout=None (our default, -1, stands for it) waits for ever
            timeout = None if timeout == -1 else timeout
            if not blocking and timeout is not None:
                raise ValueError("can't specify timeout for non-blocking acquire")
            return self._acquire(blocking, timeout, forever=timeout is None)
        if blocking and timeout != -1 and timeout < 0:
            raise ValueError("timeout value must be a non-negative number")
        return self._acquire(blocking, timeout, forever=timeout == -1)

    def _try(self):
        return self._inner.acquire(False)

    def _wait(self, timeout, forever):
        return self._inner.acquire() if forever else timed.acquire(self._inner, timeout)

    def _acquire(self, blocking, timeout, forever):
        site = _site()
        tid, thread = _me()
        with _state:
            if not blocking and not forever and not self.multi:
                self._inner.acquire(False, timeout)  # raises, as the real lock does
            got = self._try()
            if got:
                self._took(tid, thread, site)
                return True
            if not blocking or timeout == 0:
                return False
            _waits[tid] = {"lock": self, "thread": thread, "site": site}
            _flush()
        got = False
        try:
            got = self._wait(timeout, forever)
        finally:
            with _state:
                _waits.pop(tid, None)
                if got:
                    self._took(tid, thread, site, changed=True)
                else:
                    _flush()
        return got

    def _took(self, tid, thread, site, count=1, changed=False):
        key = self._hold_key(tid)
        held = _holds.get(key)
        if held is not None and held["tid"] == tid and self.kind != "Lock":
            held["count"] += count
        else:
            _holds[key] = {"tid": tid, "thread": thread, "site": site, "count": count}
        if changed or self._watched():
            _flush()

    def release(self, *args):
        with _state:
            self._inner.release(*args)  # a threading.Semaphore may release n at once
            n = args[0] if args and type(args[0]) is int else 1
            for _ in range(n):
                key = self._hold_key(threading.get_native_id())
                if self.multi and key not in _holds:  # given back by another thread than took it
                    key = next((k for k in _holds if isinstance(k, tuple) and k[0] is self), None)
                held = _holds.get(key)
                if held is None:
                    break
                held["count"] -= 1
                if self.kind == "Lock" or held["count"] <= 0:
                    del _holds[key]
            if self._watched():
                _flush()

    def _watched(self) -> bool:
        """Whether other processes or waiting threads make this lock's state worth writing."""
        return self.shared or any(w["lock"] is self for w in _waits.values())

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    # threading.Condition hands an RLock's whole count over while it waits; it looks these
    # up once, and uses its own fallbacks where the lock has none (a plain Lock has none).
    @property
    def _release_save(self):
        self._inner._release_save  # AttributeError when the real lock has none
        return self._traced_release_save

    @property
    def _acquire_restore(self):
        self._inner._acquire_restore
        return self._traced_acquire_restore

    @property
    def _is_owned(self):
        return self._inner._is_owned

    def _traced_release_save(self):
        with _state:
            state = self._inner._release_save()
            _holds.pop(self, None)
            if self._watched():
                _flush()
        return state

    def _traced_acquire_restore(self, state):
        site = _site()
        tid, thread = _me()
        with _state:
            _waits[tid] = {"lock": self, "thread": thread, "site": site}
            _flush()
        try:
            self._inner._acquire_restore(state)
        finally:
            with _state:
                _waits.pop(tid, None)
                self._took(tid, thread, site, count=state[0] if isinstance(state, tuple) else 1, changed=True)

    def __getattr__(self, name):
        if name.startswith("__") or name == "_inner":
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __reduce__(self):
        raise TypeError(f"cannot pickle '{type(self._inner).__module__}.{type(self._inner).__name__}' object")

    # isinstance() looks here too: a traced Semaphore is still a threading.Semaphore to the program.
    @property
    def __class__(self):
        return type(self._inner)

    def __repr__(self):
        return f"<traced {self.kind} {self.names[0]}: {self._inner!r}>"


class TracedSharedLock(TracedLock):
    """A multiprocessing Lock, RLock or semaphore: its state is written on every change."""

    shared = True

    def __init__(self, inner, kind, names, value=None, key=None):
        super().__init__(inner, kind, names, value)
        # Made once, and handed on when the lock is: an unnamed semaphore's handle is an address,
        # which forked children that each make their own lock can share.
        semlock = inner._semlock
        self._key = key or (f"m{semlock.name}" if semlock.name else f"m{os.getpid()}:{semlock.handle}")

    def key(self) -> str:
        return self._key

    def acquire(self, block=True, timeout=None):
        return self._acquire(block, timeout, forever=timeout is None)

    def _try(self):
        return self._inner.acquire(False)

    def _wait(self, timeout, forever):
        return self._inner.acquire(True, timeout)

    def _acquire(self, blocking, timeout, forever):
        if not blocking:
            timeout, forever = -1, True  # multiprocessing ignores a timeout when not blocking
        return super()._acquire(blocking, timeout, forever)

    def __reduce__(self):
        return _rebuild_shared, (self._inner, self.kind, self.names, _student, self.value, self._key)


def _rebuild_shared(inner, kind, names, student, value=None, key=None):
    """In a spawned process: the traced lock again, writing to this process's file."""
    global _student, _folder
    if _student is None:
        _student = student
        _folder = os.environ.get("KIT_STACKS_DIR")
        _inside_cache.clear()
    return TracedSharedLock(inner, kind, names, value, key)


def _lock_of(key):
    return key[0] if isinstance(key, tuple) else key


def held_by_me() -> list[dict]:
    """The traced locks the calling thread holds, in the order it took them (JSON, for `pause`)."""
    tid = threading.get_native_id()
    with _state:
        mine = [(_lock_of(key), h) for key, h in _holds.items() if h["tid"] == tid]
        return [{"names": lock.names[:8], "kind": lock.kind, "key": lock.key(), "value": lock.value,
                 "site": f"{os.path.basename(h['site'][0])}:{h['site'][1]}" if h["site"] else None}
                for lock, h in mine]


def _flush():
    """Write this process's part of the graph (called with _state held)."""
    if not _folder:
        return
    locks = {}

    def ref(lock):
        key = lock.key()
        locks[key] = {"names": lock.names, "kind": lock.kind, "shared": lock.shared}
        return key

    data = {
        "pid": os.getpid(),
        "process": multiprocessing.current_process().name,
        "holds": [dict(h, lock=ref(_lock_of(key))) for key, h in _holds.items()],
        "waits": [{"tid": tid, "thread": w["thread"], "site": w["site"], "lock": ref(w["lock"])}
                  for tid, w in _waits.items()],
    }
    data["locks"] = locks
    path = os.path.join(_folder, f"locks-{os.getpid()}.json")
    try:
        with open(path + ".part", "w") as f:
            json.dump(data, f)
        os.replace(path + ".part", path)
    except OSError:
        pass


_forking_tid = None


def _before_fork():
    global _forking_tid
    _forking_tid = threading.get_native_id()


def _after_fork():
    """A forked child: only the thread that forked lives on, under a new id."""
    global _state
    _state = _thread.RLock()
    _waits.clear()
    for key, held in list(_holds.items()):
        lock = _lock_of(key)
        if lock.shared:
            del _holds[key]  # the parent holds it, and says so in its own file
            continue
        held["tid"] = threading.get_native_id() if held["tid"] == _forking_tid else -1  # -1: stays locked
        if lock.multi:
            _holds[lock._hold_key(held["tid"])] = _holds.pop(key)


os.register_at_fork(before=_before_fork, after_in_child=_after_fork)
