"""A KTV: a few rooms, more singers. Every singer is a process: it arrives,
goes into a room, sings one song, and leaves.

Goal: never let more singers in than there are rooms. A singer who finds
every room taken waits outside until someone leaves; as long as a room is
free, nobody waits.

Run it by hand with `python exercises/ktv/ktv.py 4 13` (rooms, singers).
Do not change the names, the signature of ktv(), or the pause() calls: the
grader relies on them.
"""
import multiprocessing
import random
import sys
import time


def a_song(stage):
    """The default pause: a song lasts a moment (far shorter than a real one)."""
    if stage == "sing":
        time.sleep(random.uniform(0.2, 0.6))


def say(line):
    sys.stdout.write(line + "\n")  # one write, so that lines of singers singing together never mix
    sys.stdout.flush()


def sing(i, pause):
    say(f"singer {i} goes into a room")
    pause("sing")
    say(f"singer {i} leaves")


def singer(i, sem, pause):
    pause("arrive")
    with sem:  # a room while the song lasts, given back on every path, a failed song included
        sing(i, pause)


def ktv(rooms, singers, pause=a_song):
    """Start one process per singer, let each sing once, and return when every singer has left."""
    if type(rooms) is not int or rooms < 1:
        raise ValueError(f"rooms must be a whole number >= 1, not {rooms!r}")
    if type(singers) is not int or singers < 0:
        raise ValueError(f"singers must be a whole number >= 0, not {singers!r}")
    sem = multiprocessing.Semaphore(rooms)  # made here and passed in: shared under every start method
    processes = [multiprocessing.Process(target=singer, args=(i, sem, pause)) for i in range(singers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()


if __name__ == "__main__":
    rooms, singers = (int(a) for a in (sys.argv[1:3] if len(sys.argv) > 2 else (4, 13)))
    print(f"{rooms} rooms, {singers} singers")
    ktv(rooms, singers)
