"""A check declared with eager=True runs its probe's tf.functions eagerly, and only its own."""
from __future__ import annotations

from autograder.api import check
from autograder.worker import functions_run_eagerly


def test_functions_run_eagerly_in_the_block_and_traced_after_it():
    import tensorflow as tf

    @tf.function
    def eager_inside():
        return tf.executing_eagerly()

    with functions_run_eagerly():
        assert eager_inside()
    assert not eager_inside()
    assert not tf.config.functions_run_eagerly()


def test_eager_is_declared_per_check():
    probe = lambda lab, rng: None  # noqa: E731
    assert check(1, hint="h", eager=True)(probe).eager
    assert not check(1, hint="h")(probe).eager
