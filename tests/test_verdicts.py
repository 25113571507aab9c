"""Verdict helpers recognise common slips and say so."""
import numpy as np
import pytest

from autograder.api import CheckFailed
from autograder.verdicts import (
    expect_at_least,
    expect_at_most,
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_shape,
    expect_update,
)

REF = np.linspace(0.5, 3.0, 12, dtype=np.float32).reshape(3, 4)


def message_of(actual, expected=REF, **kwargs):
    with pytest.raises(CheckFailed) as caught:
        expect_close(actual, expected, "f(x)", **kwargs)
    return str(caught.value)


def test_close_values_pass_within_float32_tolerance():
    expect_close(REF * (1 + 1e-6), REF, "f(x)")


@pytest.mark.parametrize("actual,needle", [
    (-REF, "opposite sign"),
    (2 * REF, "constant factor of 2"),
    (0.5 * REF, "constant factor of 0.5"),
    (REF + 1, "constant +1"),
    (0 * REF, "all zeros where the reference is not"),
    (REF.reshape(4, 3), "reshape or a transpose"),
    (REF[:2], "has shape (2, 4), expected (3, 4)"),
    (None, "returned None"),
])
def test_common_slips_are_named(actual, needle):
    assert needle in message_of(actual)


def test_a_comparison_of_two_student_values_names_what_it_compares_against():
    message = message_of(-REF, against="its log_prob(x)")
    assert "opposite sign of its log_prob(x)" in message and "reference" not in message
    bad = REF.copy()
    bad[0, 0] += 1
    assert "differs from the outputs before saving in 1 of 12" in message_of(
        bad, against="the outputs before saving")


def test_transpose_is_named_for_square_arrays():
    square = np.arange(9, dtype=np.float32).reshape(3, 3) + 1
    assert "transpose" in message_of(square.T, square)


def test_nan_is_reported_with_its_position():
    bad = REF.copy()
    bad[1, 2] = np.nan
    assert "NaN or inf in 1 of 12 entries (first: NaN at index (1, 2))" in message_of(bad)


def test_a_generic_difference_points_at_the_worst_entry():
    bad = REF.copy()
    bad[2, 1] += 0.5
    assert "1 of 12 values; worst at index (2, 1)" in message_of(bad)


def test_other_helpers():
    expect_equal([1, 2], np.array([1, 2]), "labels")
    with pytest.raises(CheckFailed, match="first at index"):
        expect_equal([1, 3], np.array([1, 2]), "labels")
    with pytest.raises(CheckFailed, match="needs at least 0.9"):
        expect_at_least(0.5, 0.9, "accuracy")
    with pytest.raises(CheckFailed, match="shape"):
        expect_shape(np.zeros(3), (4,), "z")
    with pytest.raises(CheckFailed, match="not an array|numbers"):
        expect_close("text", REF, "f(x)")


def test_a_value_just_past_its_bound_does_not_print_equal_to_it():
    with pytest.raises(CheckFailed) as failed:
        expect_at_most(0.100004, 0.1, "loss")
    assert "is 0.100004, needs at most 0.1" in str(failed.value)


def test_a_value_matching_a_known_mistake_is_named():
    slips = [(2.0, "summed, not averaged"), (np.zeros(2), "never updated")]
    expect_close_naming(1.0, 1.0, "loss", slips)
    with pytest.raises(CheckFailed, match="^loss: summed, not averaged$"):
        expect_close_naming(np.array([2.0]), 1.0, "loss", slips)
    with pytest.raises(CheckFailed, match="differs.*: check the sign"):
        expect_close_naming([5.0, 3.0], [1.0, 1.0], "update", slips, advice="check the sign")


def test_an_update_equal_to_a_named_slip_says_which():
    with pytest.raises(CheckFailed, match="update: the logits were swapped"):
        expect_update([2.0], [1.0], "update", "take the gradient",
                      {"swapped": [2.0], "absent": None}, {"swapped": "the logits were swapped",
                                                           "absent": "never said"})
