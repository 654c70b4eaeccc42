"""What a run's first process does to itself before any student code: leave the grader's session,
become the sandbox user, join the slot's CPU group, lower its priority and take its limits.

The plan is data (sandbox/resources.py decides it); this applies it, in the forked child of the
zygote (child/zygote.py): the group while it may still write the group's `tasks` file, then the
user, then the limits, so that RLIMIT_NPROC counts the sandbox user's processes.
"""
import ctypes
import os
import resource

_PR_SET_DUMPABLE = 4


def apply(plan: dict) -> None:
    os.setsid()
    if plan.get("cpu_tasks"):
        try:
            with open(plan["cpu_tasks"], "w") as f:
                f.write(str(os.getpid()))
        except OSError:  # resources.join_cpu_share, from the grader, is the second try
            pass
    if plan.get("uid") is not None:
        os.setgroups([])
        os.setresgid(plan["gid"], plan["gid"], plan["gid"])
        os.setresuid(plan["uid"], plan["uid"], plan["uid"])
        # A process that changed its user without exec is no longer dumpable: its /proc files would be
        # root's, and its own user could not look at it as it could at any program it started itself.
        _set_dumpable()
    os.nice(plan.get("nice", 0))
    for which, value in plan.get("rlimits", ()):
        hard = resource.getrlimit(which)[1]
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def _set_dumpable() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
