"""dlkit.data.sequences: the procedural sequences of lab17_self_supervised (CPC)."""
import numpy as np
import pytest

from dlkit.data import SEQUENCE_FREQUENCIES, make_sequences


def test_shapes_dtypes_and_balance():
    x, labels, phase = make_sequences(40, length=32, seed=3)
    assert x.shape == (40, 32, 1) and x.dtype == np.float32
    assert labels.shape == (40,) and labels.dtype == np.int32
    assert phase.shape == (40, 32) and phase.dtype == np.float32
    assert np.bincount(labels).tolist() == [40 // len(SEQUENCE_FREQUENCIES)] * len(SEQUENCE_FREQUENCIES)
    assert np.all((phase >= 0) & (phase < 2 * np.pi))


def test_seeded():
    a, b = make_sequences(8, seed=1), make_sequences(8, seed=1)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not np.array_equal(a[0], make_sequences(8, seed=2)[0])


def test_noise_free_signal_follows_the_class_frequencies():
    x, labels, phase = make_sequences(8, length=48, noise=0.0, drift=0.0, seed=0)
    t = np.arange(48)
    for row, label, ph in zip(x[..., 0], labels, phase):
        w1, w2 = SEQUENCE_FREQUENCIES[label]
        expected = 0.6 * np.sin(w1 * t + ph[0]) + 0.4 * np.sin(w2 * t + 2 * ph[0])
        np.testing.assert_allclose(row, expected, atol=1e-5)


def test_future_is_predictable_from_the_past_by_class():
    """A least-squares linear predictor of x[t+1] from the last 8 steps, fitted on clean-ish
    data, explains most of the variance: the future is predictable."""
    x, _, _ = make_sequences(64, length=64, noise=0.05, seed=4)
    s = x[..., 0]
    past = np.stack([s[:, k:k + 48] for k in range(8)], axis=-1).reshape(-1, 8)
    future = s[:, 8:56].reshape(-1)
    coef, *_ = np.linalg.lstsq(past, future, rcond=None)
    residual = future - past @ coef
    assert residual.var() < 0.1 * future.var()


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        make_sequences(0)
