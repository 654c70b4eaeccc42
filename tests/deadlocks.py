"""Programs that deadlock, shared by the lock-tracing and feedback tests."""
import textwrap


def line_of(source: str, text: str) -> int:
    """The line number of the one line of `source` (as the fixture writes it) that contains `text`."""
    lines = textwrap.dedent(source).splitlines()
    found = [n for n, line in enumerate(lines, 1) if text in line]
    assert len(found) == 1, (text, found)
    return found[0]


OPPOSITE_ORDERS = """
    import threading
    from graders.child import locktrace

    lock_A = threading.Lock()
    lock_B = threading.Lock()

    def one(pause):
        with lock_A:  # one takes A
            pause("first")
            with lock_B:  # one wants B
                pass

    def two(pause):
        with lock_B:  # two takes B
            pause("first")
            with lock_A:  # two wants A
                pass

    def probe(student, pause):
        locktrace.trace(student)
        threads = [threading.Thread(target=one, args=(pause,), name="one"),
                   threading.Thread(target=two, args=(pause,), name="two")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
"""
