"""Comparisons that verdicts use, each failing with a message a student can act on.

Messages name the expression under test (`what`), say how the result differs from the
reference, and recognise the common slips: a constant factor, a flipped sign, a constant
offset, a transpose, NaN or inf.
"""
from __future__ import annotations

import numpy as np

from autograder.api import CheckFailed

# Float32 arithmetic done in a different order (another BLAS, oneDNN, GPU) differs by a few
# ulps per operation; these bounds leave room for that and nothing more.
TOLERANCES = {np.dtype("float16"): (1e-2, 1e-3), np.dtype("float32"): (2e-4, 2e-5),
              np.dtype("float64"): (1e-7, 1e-9)}


def as_array(value, what: str) -> np.ndarray:
    if value is None:
        raise CheckFailed(f"{what} returned None (is a `return` missing?)")
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and the like
        raise CheckFailed(f"{what} returned something that is not an array: {error}") from None
    if array.dtype.kind not in "biuf":
        raise CheckFailed(f"{what} returned values of type {array.dtype}, expected numbers")
    return array


def expect_shape(actual, shape: tuple, what: str) -> np.ndarray:
    array = as_array(actual, what)
    if array.shape != tuple(shape):
        raise CheckFailed(f"{what} has shape {array.shape}, expected {tuple(shape)}")
    return array


def expect_finite(actual, what: str) -> np.ndarray:
    array = as_array(actual, what)
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(array[first]) else "inf"
        raise CheckFailed(f"{what} contains NaN or inf in {int(bad.sum())} of {array.size} "
                          f"entries (first: {kind} at index {first})")
    return array


def _diagnose(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
              against: str = "the reference") -> str | None:
    """Name a simple relation between a wrong answer and the right one, if there is one."""
    def close(a, b):
        return np.allclose(a, b, rtol=rtol * 10, atol=atol * 10)

    if actual.size > 1 and not actual.any():
        return f"is all zeros where {against} is not (a stub, or a result never filled in?)"
    if close(actual, -expected):
        return f"has the opposite sign of {against} (a flipped sign?)"
    big = np.abs(expected) > 1e-3
    if big.sum() >= 2:
        ratio = actual[big] / expected[big]
        factor = float(np.median(ratio))
        if np.isfinite(factor) and abs(factor - 1) > 1e-3 and close(actual, factor * expected):
            return f"is off by a constant factor of {factor:.4g} against {against}"
    offset = float(np.median(actual - expected))
    if abs(offset) > atol and close(actual, expected + offset):
        return f"is off by a constant {offset:+.4g} against {against}"
    if actual.ndim >= 2 and actual.shape[-2:] == expected.shape[-2:][::-1] \
            and close(np.swapaxes(actual, -1, -2), expected):
        return f"is the transpose of {against}"
    return None


def expect_close(actual, expected, what: str, *, rtol: float | None = None,
                 atol: float | None = None, against: str = "the reference") -> None:
    """`actual` matches the reference `expected` elementwise, within float tolerances.
    against: what `expected` is, for the message (e.g. "TFP's log_prob" when a verdict
    compares two of the student's own values)."""
    expected = np.asarray(expected)
    actual = as_array(actual, what)
    if actual.shape != expected.shape:
        if actual.size == expected.size and actual.size > 0:
            raise CheckFailed(f"{what} has shape {actual.shape}, expected {expected.shape} "
                              "(same number of values: a reshape or a transpose?)")
        raise CheckFailed(f"{what} has shape {actual.shape}, expected {expected.shape}")
    default_rtol, default_atol = TOLERANCES.get(expected.dtype, TOLERANCES[np.dtype("float32")])
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    if np.all(np.isfinite(expected)):
        expect_finite(actual, what)
    actual = actual.astype(np.float64)
    expected = expected.astype(np.float64)
    if np.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True):
        return
    diagnosis = _diagnose(actual, expected, rtol, atol, against)
    if diagnosis:
        raise CheckFailed(f"{what} {diagnosis}")
    error = np.abs(actual - expected) - rtol * np.abs(expected)
    worst = np.unravel_index(int(np.argmax(error)), error.shape) if error.ndim else ()
    wrong = int((~np.isclose(actual, expected, rtol=rtol, atol=atol)).sum())
    where = f" at index {tuple(int(i) for i in worst)}" if worst else ""
    raise CheckFailed(f"{what} differs from {against} in {wrong} of {expected.size} values; "
                      f"worst{where}: got {actual[worst]:.6g}, expected {expected[worst]:.6g}")


def expect_equal(actual, expected, what: str) -> None:
    """Exact equality, for integers, masks and labels."""
    expected = np.asarray(expected)
    actual = as_array(actual, what)
    if actual.shape != expected.shape:
        raise CheckFailed(f"{what} has shape {actual.shape}, expected {expected.shape}")
    wrong = actual != expected
    if wrong.any():
        first = tuple(int(i) for i in np.argwhere(wrong)[0])
        raise CheckFailed(f"{what} differs from the reference in {int(wrong.sum())} of "
                          f"{expected.size} entries (first at index {first}: got {actual[first]}, "
                          f"expected {expected[first]})")


def expect_true(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def expect_close_naming(actual, expected, what: str, mistakes=(), *, advice: str = "",
                        match_rtol: float = 1e-4, match_atol: float = 1e-5, **tolerances) -> None:
    """expect_close, but when the answer matches the value of a known mistake (`mistakes`:
    pairs (value, message), values the probe computed for the slips) the failure says
    `what: message`; otherwise `advice`, if any, follows the difference."""
    try:
        expect_close(actual, expected, what, **tolerances)
    except CheckFailed as failure:
        actual = np.asarray(actual, dtype=np.float64)
        for wrong, message in mistakes:
            wrong = np.asarray(wrong, dtype=np.float64)
            got = actual.reshape(()) if wrong.ndim == 0 and actual.size == 1 else actual
            if got.shape == wrong.shape and np.allclose(got, wrong, rtol=match_rtol,
                                                        atol=match_atol):
                raise CheckFailed(f"{what}: {message}") from None
        if advice:
            raise CheckFailed(f"{failure}: {advice}") from None
        raise


def expect_update(update, reference, what: str, advice: str, mistakes=None,
                  explanations=None) -> None:
    """A training step's parameter update equals the reference's; when it does not, the slip
    whose update it equals is named (`mistakes`: updates the probe computed for slips, by
    name; `explanations`: messages by the same names), or else `advice` is given."""
    mistakes = mistakes or {}
    named = [(mistakes[name], message) for name, message in (explanations or {}).items()
             if mistakes.get(name) is not None]
    expect_close_naming(update, reference, what, named, advice=advice, rtol=1e-3, atol=1e-5,
                        match_rtol=1e-3)


def _apart(value: float, bound: float) -> tuple[str, str]:
    """value and bound with 4 significant digits, or as many more as it takes for the two to
    print differently (a value just past its bound must not read as equal to it)."""
    for digits in range(4, 17):
        shown, limit = f"{value:.{digits}g}", f"{bound:.{digits}g}"
        if shown != limit:
            break
    return shown, limit


def expect_at_least(value, floor: float, what: str, *, unit: str = "") -> None:
    """A higher-is-better metric reaches `floor`."""
    value = float(as_array(value, what))
    if not np.isfinite(value) or value < floor:
        shown, bound = _apart(value, floor)
        raise CheckFailed(f"{what} is {shown}{unit}, needs at least {bound}{unit}")


def expect_at_most(value, ceiling: float, what: str, *, unit: str = "") -> None:
    """A lower-is-better metric (a loss, a distance) stays at or below `ceiling`."""
    value = float(as_array(value, what))
    if not np.isfinite(value) or value > ceiling:
        shown, bound = _apart(value, ceiling)
        raise CheckFailed(f"{what} is {shown}{unit}, needs at most {bound}{unit}")
