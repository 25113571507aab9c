"""Lab 6b, part 1: the copy, add and count tasks, as seeded generators of token sequences.
Fill in the parts marked TODO.

Every generator draws from the numpy Generator `rng` it is given (and from nothing else),
so the same seed gives the same data. Tokens: the digits 0..9 are themselves; PLUS = 10
separates the two numbers of the add task.
Shapes: n examples; every array is int32.
"""
import numpy as np

NUM_DIGITS = 10
PLUS = 10


def make_copy_task(n, length, rng, reverse=False):
    """n random digit sequences and their copies: (sources, targets), both (n, length).

    Every digit of every source is drawn uniformly from 0..9. targets is a copy of sources,
    or, with reverse=True, each row read backwards (the reversal task).
    """
    # TODO: sources = rng.integers(0, NUM_DIGITS, size=(n, length)); targets = a copy, each row
    #       reversed (sources[:, ::-1]) when reverse is True; both int32
    raise NotImplementedError("fill in the TODO above")


def digits_of(numbers, width):
    """The decimal digits of non-negative integers, most significant first, zero-padded:
    numbers (n,) -> (n, width) int32. Example: digits_of([42], 3) -> [[0, 4, 2]]."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype="int64")
    return ((np.asarray(numbers, "int64")[:, None] // powers) % 10).astype("int32")


def make_add_task(n, num_digits, rng):
    """n additions a + b of two numbers drawn uniformly from 0 .. 10**num_digits - 1.

    sources (n, 2 * num_digits + 1): the digits of a, PLUS, the digits of b (each number
    num_digits digits, most significant first, zero-padded); targets (n, num_digits + 1):
    the digits of a + b, most significant first, zero-padded (the sum can carry into one
    more digit). Example with num_digits=2: 47 + 85 -> sources [4, 7, PLUS, 8, 5],
    targets [1, 3, 2].
    """
    # TODO: a and b = rng.integers(0, 10 ** num_digits, size=n) each; sources = digits_of(a), a
    #       column of PLUS, digits_of(b) side by side; targets = digits_of(a + b, num_digits + 1)
    raise NotImplementedError("fill in the TODO above")


def make_count_task(n, length, rng):
    """n counting questions: how often does the query digit occur in a sequence?

    sources (n, length + 1): the query digit (uniform in 0..9), then `length` digits drawn
    uniformly from 0..9; targets (n, 2): the number of times the query occurs among those
    `length` digits (the query itself is not counted), as two digits, tens then units.
    length is at most 99. Example: [3,  1, 3, 3, 0] -> [0, 2].
    """
    # TODO: queries = rng.integers(0, NUM_DIGITS, size=n), then the sequences (n, length); counts =
    #       (sequences == queries[:, None]).sum(axis=1); sources = the query column then the
    #       sequence; targets = digits_of(counts, 2)
    raise NotImplementedError("fill in the TODO above")
