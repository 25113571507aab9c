"""An honest submission: it changes nothing in the process."""
import numpy


def tampered():
    return numpy.pi != 3.141592653589793 or hasattr(numpy, "planted_by_a_submission")
