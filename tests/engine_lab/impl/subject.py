"""A submission that does everything a worker must survive."""
import os
import signal
import sys

import numpy as np


def add(a, b):
    return np.asarray(a) + np.asarray(b)


def raise_error():
    values = [1, 2]
    return values[5]


def not_done():
    raise NotImplementedError("write the forward pass")


def call_sys_exit():
    sys.exit(0)


def call_os_exit():
    os._exit(0)


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def loop_forever():
    while True:
        pass


def eat_memory():
    hog = []
    while True:
        hog.append(np.ones(1 << 27))  # 1 GiB a step, touched


def print_flood():
    line = "x" * 1023
    while True:
        print(line)


class Liar:
    """Claims to equal anything."""
    def __eq__(self, other):
        return True

    def numpy(self):
        return self


def liar():
    return Liar()
