"""Runs in the child process, next to the student's traffic.py.

`Light` is the light the grader hands to drive(). It switches the student's
Event (or whatever drive() gives it that has set() and clear()) by a script of
phases, each a colour and how long it lasts:

- seconds: a phase timed on the grader's virtual clock, the clock the student's
  timeouts run on, so a police car's patience and the light's phases are
  compared in time without a real second passing;
- "hold": the light waits in pause("light:COLOUR:hold"), and the grader lets it
  switch only once nothing else in the program can move, every timeout that can
  run out included: a red that lasts longer than any car's patience;
- None: the last colour, kept until stop().

After every switch, the first colour's too, the light calls
pause("light:COLOUR"), so the grader sees when it switched and what each car did
then, and a timed phase starts only when that pause is let go: the first one
together with the cars that arrived, not while they are still held at their
start. stop() ends the light with pause("light:off").
The light is a thread of the program's main process, so it works with any Event
the student makes, of any start method, context or Manager.
"""
import threading

from graders.child import timed

RETURNED = "kit:returned"
CASE = "kit:case:"


class Light:
    def __init__(self, pause, script):
        self.pause = pause
        self.script = script
        self.stopped = threading.Event()
        self.thread = None

    def start(self, green, *args, **kwargs):
        if self.thread is not None:
            return
        self.green = green
        _switch(green, self.script[0][0])  # before start() returns: the first colour is there at once
        self.thread = threading.Thread(target=self._run, name="traffic light", daemon=True)
        self.thread.start()

    def stop(self, *args, **kwargs):
        self.stopped.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()

    def _run(self):
        for number, (colour, length) in enumerate(self.script):
            if number:
                _switch(self.green, colour)
            self.pause(f"light:{colour}:hold" if length == "hold" else f"light:{colour}")
            if self.stopped.is_set():
                break
            if length is None:
                self.stopped.wait()
                break
            if length != "hold" and timed.wait_for(self.stopped.wait, length, "light"):
                break
        self.pause("light:off")

    def __repr__(self):
        return "light"


def _switch(green, colour):
    if colour == "green":
        green.set()
    else:
        green.clear()


def drive(traffic, pause, script, cars, police):
    light = Light(pause, script)
    traffic.drive(cars=cars, police=police, light=light, pause=pause)
    pause(RETURNED)  # lets the grader see which cars were still running, and whether the light was off


def bad_input(traffic, pause, script, cases):
    """Call drive() once per case; report what each call raised or returned."""
    from graders.child.errors import describe_exception

    report = []
    for number, case in enumerate(cases):
        pause(f"{CASE}{number}")  # if a case hangs, the grader knows which
        try:
            returned = traffic.drive(cars=case["cars"], police=case["police"], light=Light(pause, script),
                                     pause=pause)
        except Exception as error:
            report.append({"raised": describe_exception(error, "/nonexistent")})
        else:
            report.append({"raised": None, "returned": repr(returned)[:200]})
    return report
