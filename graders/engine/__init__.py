"""The grading engine: the grading process's side, which decides verdicts and
never imports student code.

- `checks.py`: what graders write with (`@check`, `Student`, `CheckFailure`);
- `run.py`: one probe in a fresh child, under a deadline; `scheduler.py`: the
  lockstep `pause` and the virtual clock; `tree.py`: the child's process tree;
  `stacks.py`: the student's frames of a hang; `lockgraph.py`: a hang's
  deadlock told in words; `crashlog.py`: the crashes a run recorded;
- `grading.py`: stage a submission and run the grading pytest processes;
  `settings.py`: what each is asked to do; `balance.py`: split the runs
  between them; `plugin.py`: their pytest plugin;
- `results.py` and `report.py`: results as data, then as text;
- `manifest.py` (exercises.toml), `catalog.py` (the checks an exercise has),
  `files.py` (files written whole).
"""
