"""Ticket sale: every buyer searches for a ticket, then buys it.

Goal: make buying safe, so that no ticket is ever sold twice, while searching
stays concurrent (every buyer may search at the same time).

Run it by hand with `python exercises/lock/tickets.py 3 5` (tickets, buyers).
Do not change the names, the signature of sell(), or the pause() calls: the
grader relies on them.
"""
import json
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path


def network_delay(stage):
    """The default pause: a short random wait, like a slow booking site."""
    time.sleep(random.uniform(0.01, 0.05))


def read_count(db_path):
    with open(db_path) as f:
        return json.load(f)["count"]


def write_count(db_path, count):
    with open(db_path, "w") as f:
        json.dump({"count": count}, f)


def check_db(db_path):
    """Raise FileNotFoundError or ValueError for a ticket file that cannot be sold from."""
    path = Path(db_path)
    text = path.read_text()  # FileNotFoundError when the file is missing
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(f"{path} is not JSON") from None
    count = data.get("count") if isinstance(data, dict) else None
    if type(count) is not int or count < 0:
        raise ValueError(f'{path} must hold {{"count": N}} with N a whole number >= 0')


def search(db_path, pause):
    count = read_count(db_path)
    pause("search")
    return count


def buy(db_path, pause):
    count = read_count(db_path)
    pause("buy")
    if count > 0:
        write_count(db_path, count - 1)
        return True
    return False


def buyer(db_path, pause, outcomes, i, lock):
    search(db_path, pause)
    with lock:  # one buyer at a time; searching above stays concurrent
        outcomes[i] = buy(db_path, pause)


def sell(db_path, buyers, pause=network_delay):
    """Start one process per buyer; result[i] is True when buyer i got a ticket."""
    if type(buyers) is not int or buyers < 0:
        raise ValueError(f"buyers must be a whole number >= 0, not {buyers!r}")
    check_db(db_path)
    outcomes = multiprocessing.Array("b", buyers)
    lock = multiprocessing.Lock()  # made here and passed in: shared under every start method
    processes = [
        multiprocessing.Process(target=buyer, args=(db_path, pause, outcomes, i, lock))
        for i in range(buyers)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    return [bool(x) for x in outcomes]


if __name__ == "__main__":
    tickets, buyers = (int(a) for a in (sys.argv[1:3] if len(sys.argv) > 2 else (3, 5)))
    db = Path(tempfile.mkdtemp()) / "tickets.json"
    write_count(db, tickets)
    result = sell(db, buyers)
    print(f"{tickets} tickets, {buyers} buyers: {sum(result)} sold, {read_count(db)} left")
    for i, got in enumerate(result):
        print(f"buyer {i}: {'got a ticket' if got else 'sold out'}")
