"""What runs in the child process, beside the student's code: the run's main
(`main.py`), the `pause` hook, the time model, lock tracing and crash records.

These modules import nothing heavy and nothing of the grading process's side:
under forkserver they are preloaded in a server that forks every process of
the student's program.
"""
