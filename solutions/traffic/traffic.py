"""Traffic light: cars wait for the green light.

A light switches an Event between red (clear) and green (set). Every car is a
process: it arrives at the light, waits for green, and crosses. A police car
waits at most PATIENCE seconds for green, then crosses anyway.

Goal: no car crosses on red, and a waiting car crosses as soon as the light
turns green; a police car crosses on green at once, or on red once its
patience has run out; drive() returns once every car has crossed and the light
is stopped.

Run it by hand with `python exercises/traffic/traffic.py 4 1` (cars, police cars).
Do not change the names, the signature of drive(), or the pause() calls: the
grader relies on them.
"""
import multiprocessing
import sys
import time

PATIENCE = 0.5  # seconds a police car waits for green before it crosses anyway


def say(text):
    sys.stdout.write(f"{time.time() % 60:5.2f}  {text}\n")  # one write: lines of several processes stay whole
    sys.stdout.flush()


def show(stage):
    """The default pause: say who does what, and when."""
    what, kind, number = stage.split(":")
    say(f"{'police car' if kind == 'police' else 'car'} {number} {what}{'s' if what == 'arrive' else 'es'}")


class Light:
    """The lesson's traffic light: a process that turns `green` on and off every `seconds`.

    start(green) makes the light red and starts it; stop() ends it. The grader
    hands drive() a light of its own, which switches when the grader says.
    """

    def __init__(self, seconds=1.0):
        self.seconds = seconds
        self.process = None
        self.stopped = multiprocessing.Event()

    def start(self, green):
        green.clear()
        say("the light is red")
        self.process = multiprocessing.Process(target=switch, args=(green, self.stopped, self.seconds))
        self.process.start()

    def stop(self):
        self.stopped.set()
        self.process.join()


def switch(green, stopped, seconds):
    while not stopped.wait(seconds):
        if green.is_set():
            green.clear()
        else:
            green.set()
        say(f"the light turns {'green' if green.is_set() else 'red'}")


def car(green, number, pause):
    pause(f"arrive:car:{number}")
    green.wait()  # no timeout: a car crosses on green only, however long the red lasts
    pause(f"cross:car:{number}")


def police_car(green, number, pause):
    pause(f"arrive:police:{number}")
    green.wait(PATIENCE)  # returns at once on green, or when its patience has run out
    pause(f"cross:police:{number}")


def drive(cars=4, police=1, light=None, pause=show):
    """Start the light and one process per car: cars 0 to cars-1, then the police cars.

    Return once every car has crossed and the light is stopped.
    """
    for name, value in (("cars", cars), ("police", police)):
        if type(value) is not int or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    light = Light() if light is None else light
    green = multiprocessing.Event()
    light.start(green)
    processes = [multiprocessing.Process(target=car, args=(green, number, pause)) for number in range(cars)]
    processes += [multiprocessing.Process(target=police_car, args=(green, number, pause))
                  for number in range(cars, cars + police)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    light.stop()


if __name__ == "__main__":
    cars, police = (int(a) for a in (sys.argv[1:3] if len(sys.argv) > 2 else (4, 1)))
    drive(cars, police)
