"""Tests of dlkit.data.kernels_data, the offline data of lab23_nngp_ntk."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dlkit.data import KERNEL_DOMAINS, kernel_target, make_kernel_regression


@pytest.mark.parametrize("domain, dim", [("circle", 2), ("sphere", 3), ("interval", 1)])
def test_contract_shapes_dtypes_and_domain(domain, dim):
    data = make_kernel_regression(20, 9, domain=domain, seed=3)
    assert data["x_train"].shape == (20, dim) and data["x_test"].shape == (9, dim)
    assert data["y_train"].shape == (20,) and data["y_test"].shape == (9,)
    assert all(v.dtype == np.float32 for v in data.values())
    if domain == "interval":
        assert np.abs(data["x_train"]).max() <= 1.0
    else:
        np.testing.assert_allclose(np.linalg.norm(data["x_train"], axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(data["x_test"], axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(data["y_test"], kernel_target(data["x_test"]), atol=1e-6)


def test_seeded_and_noise_as_stated():
    a, b = make_kernel_regression(500, seed=1), make_kernel_regression(500, seed=1)
    np.testing.assert_array_equal(a["x_train"], b["x_train"])
    assert not np.array_equal(a["x_train"], make_kernel_regression(500, seed=2)["x_train"])
    residual = a["y_train"] - kernel_target(a["x_train"])
    assert 0.08 < residual.std() < 0.12 and abs(residual.mean()) < 0.02
    quiet = make_kernel_regression(50, noise=0.0, seed=1)
    np.testing.assert_allclose(quiet["y_train"], kernel_target(quiet["x_train"]), atol=1e-6)


def test_target_is_smooth_and_not_trivial():
    data = make_kernel_regression(1, 400, domain="circle")
    y = data["y_test"]
    assert y.std() > 0.5                                # something to learn...
    assert np.abs(np.diff(y)).max() < 0.1               # ...and smooth along the circle


def test_bad_arguments():
    with pytest.raises(ValueError):
        make_kernel_regression(5, domain="torus")
    with pytest.raises(ValueError):
        make_kernel_regression(0)
    assert KERNEL_DOMAINS == ("circle", "sphere", "interval")


def test_import_does_not_load_tensorflow():
    code = "import sys, dlkit.data.kernels_data; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
