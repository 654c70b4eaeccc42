"""The sandbox around a submission: what keeps it to itself.

Every child process that runs student code starts under limits on processes,
memory, open files, file size (its stdout and stderr are files) and CPU time
(`resources.py`); the engine adds the wall clock (the deadline) and a cap on
the memory of the whole process tree (`resources.MemoryWatch`).

When the grader runs as root (a container, Gradescope, CI), the child also
runs as an unprivileged user (`users.py`): a *slot*, one uid from SLOT_UIDS,
which one grading holds alone (a lock file) for as long as it runs. So the
submission cannot signal the grader, write the kit, its results or another
student's, or read solutions/ and the checks (made private, `folders.py`),
and the process limit counts its own processes only: a fork bomb in one
submission never starves another graded at the same time. After every run,
every process of the slot is killed and what it left behind is removed
(`cleanup.py`), whatever the tree walk found. Whatever a run wrote is read
back bounded, never through a link (`untrusted.py`).

As an ordinary user the limits still apply, but the submission runs as that
user. Settings (environment): KIT_SANDBOX=off runs submissions as the
grader's own user even as root (trusted code only); KIT_SANDBOX_UIDS="A-B"
picks the uids of the slots; KIT_SANDBOX_PYTHON names the interpreter the
slot user runs, when the grader's own is out of its reach (under /root, say).
"""
