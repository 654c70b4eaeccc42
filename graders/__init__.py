"""The kit's graders.

One folder per exercise (`lock/`, `consumer/`, ...: its checks, the probe its
runs call, its analysis and its bank of variants), and the machinery they use:

- `engine/`: the grading process's side: checks, runs, the lockstep scheduler, results, reports;
- `child/`: what runs in the child process beside the student's code;
- `sandbox/`: what keeps a submission to itself (limits, users, untrusted reads);
- `cli/`: the commands, `python -m graders COMMAND`;
- `classroom/`: grading a class and what instructors hand out (batch, shards, bundles, formats);
- `devtools/`: for the kit's authors (bench, pictures, the bank loader, scaffolding).
"""


def __getattr__(name):
    # KIT, the kit's own folder (exercises/, solutions/, graders/, ...), made when first asked for: every
    # process of a run imports this package, and most never need pathlib.
    global KIT
    if name == "KIT":
        from pathlib import Path
        KIT = Path(__file__).resolve().parent.parent
        return KIT
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
