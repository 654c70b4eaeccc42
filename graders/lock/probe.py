"""Runs in the child process, next to the student's tickets.py."""
from graders.engine.exceptions import describe_exception

RETURNED = "kit:returned"


def sell(tickets, pause, db_path, buyers):
    result = tickets.sell(db_path, buyers, pause=pause)
    pause(RETURNED)  # lets the grader see which buyers were still running
    return result


def bad_input(tickets, pause, cases):
    """Call sell() once per case; report what each call raised or returned."""
    report = []
    for case in cases:
        try:
            returned = tickets.sell(case["db_path"], case["buyers"], pause=pause)
        except Exception as error:
            report.append({"raised": describe_exception(error, "/nonexistent")})
        else:
            report.append({"raised": None, "returned": repr(returned)[:200]})
    return report
