"""Which locks a thread held at a pause is told by the program's own process: a submission can forge
it. A forged report can only make a check fail, or leave the verdict to what the grader saw itself:
it never passes a program whose threads the grader saw meet, nor one whose report cannot be true."""
import pytest

from graders.devtools import bank
from graders.engine import manifest
from graders.engine.grading import grade

EXERCISES = manifest.load()


def forging(locks: str) -> str:
    """Code that makes every pause of the program report `locks` (a Python expression, per thread)."""
    return f'''

def _forged():
    import threading
    me = threading.get_native_id()
    return {locks}


__import__("graders.child.pause").child.pause._held_locks = _forged
'''


def held(name, key):
    return f'{{"names": ["{name}"], "kind": "RLock", "key": {key}, "value": None, "site": "shop.py:1"}}'


# lock_A and lock_B as one lock each, in every pause of every thread.
BOTH = f'[{held("lock_A", repr("t1:1"))}, {held("lock_B", repr("t1:2"))}]'
# lock_A and lock_B as locks of each thread's own.
OWN = "[" + held("lock_A", "f'a{me}'") + ", " + held("lock_B", "f'b{me}'") + "]"
# The counters rlock's grader expects, whatever the workers did.
EXACT = '''
_run = run


def run(workers=3, rounds=1, pause=no_pause):
    _run(workers, rounds, pause)
    return {"f1": workers * rounds, "f2": workers * rounds, "audit": 2 * workers * rounds}
'''

CASES = [
    ("rlock", "lock_a_let_go_before_lock_b", BOTH, "bump_is_exclusive", "cannot be true"),
    ("rlock", "lock_a_let_go_before_lock_b", OWN, "bump_is_exclusive", "one lock in some pauses and another"),
    ("rlock", "no_locks", BOTH, "bump_is_exclusive", "cannot be true"),
    ("lock", "no_lock", '[{"names": ["lock"], "kind": "Lock", "key": "m1", "value": None, "site": "tickets.py:1"}]',
     "buy_is_exclusive", "inside buy() at the same time"),
]


@pytest.mark.parametrize("exercise, name, locks, check, words", CASES,
                         ids=["rlock-one-lock-each", "rlock-own-locks", "rlock-no-locks", "lock-no-lock"])
def test_a_forged_report_of_locks_passes_no_wrong_program(exercise, name, locks, check, words, tmp_path):
    ex = EXERCISES[exercise]
    variant = next(v for v in bank.load(exercise) if v.name == name)
    path = tmp_path / ex.stub
    path.write_text(variant.source(ex) + forging(locks) + (EXACT if exercise == "rlock" else ""))
    result = grade([ex], sources={exercise: path}, methods=["forkserver"], checks=[check])
    (graded,) = [c for c in result.exercises[0].checks if c.name == check]
    failures = [r.failure for r in graded.runs if not r.passed]
    assert failures and len(failures) == len(graded.runs), f"{name} with forged locks passed {check}"
    assert all(f.kind != "grader" for f in failures), failures
    assert words in failures[0].summary, failures[0].summary
