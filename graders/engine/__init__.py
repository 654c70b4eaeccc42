"""The grading engine.

Parent side (the grading process): checks.py (what graders write with),
run.py (one probe in a child, under a deadline), scheduler.py (lockstep
`pause`), tree.py (the child's process tree), stacks.py (student-only frames),
plugin.py (pytest), results.py and report.py (results as data, then text),
grade.py (stage and grade), manifest.py (exercises.toml).
Child side: runner.py, hook.py, timed.py (timed waits on the grader's clock),
boot/sitecustomize.py; they import nothing heavy.
"""
