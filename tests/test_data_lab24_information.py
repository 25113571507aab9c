"""Tests of dlkit.data.gaussians, the offline data of lab24_information."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dlkit.data import correlated_gaussians, gaussian_mutual_information, random_joint, sample_joint


def test_gaussians_contract_and_seeding():
    x, y = correlated_gaussians(50, dim=3, rho=0.5, seed=2)
    assert x.shape == y.shape == (50, 3) and x.dtype == y.dtype == np.float32
    again = correlated_gaussians(50, dim=3, rho=0.5, seed=2)
    np.testing.assert_array_equal(x, again[0])
    np.testing.assert_array_equal(y, again[1])
    assert not np.array_equal(x, correlated_gaussians(50, dim=3, rho=0.5, seed=3)[0])
    with pytest.raises(ValueError):
        correlated_gaussians(5, rho=1.0)


def test_gaussians_have_the_stated_correlation_and_mi():
    x, y = correlated_gaussians(40000, dim=2, rho=0.8, seed=0)
    for k in range(2):
        assert abs(np.corrcoef(x[:, k], y[:, k])[0, 1] - 0.8) < 0.01
    assert abs(np.corrcoef(x[:, 0], y[:, 1])[0, 1]) < 0.02       # coordinates independent
    # I = -d/2 log(1 - rho^2), against the Gaussian formula from the sample covariance.
    cov = np.cov(np.concatenate([x, y], axis=1).T)
    from_cov = 0.5 * (np.linalg.slogdet(cov[:2, :2])[1] + np.linalg.slogdet(cov[2:, 2:])[1]
                      - np.linalg.slogdet(cov)[1])
    assert abs(from_cov - gaussian_mutual_information(2, 0.8)) < 0.03
    assert gaussian_mutual_information(4, 0.0) == 0.0


def test_discrete_joint_and_samples():
    joint = random_joint(3, 4, seed=1, zeros=2)
    assert joint.shape == (3, 4) and abs(joint.sum() - 1) < 1e-12 and (joint == 0).sum() == 2
    np.testing.assert_array_equal(joint, random_joint(3, 4, seed=1, zeros=2))
    x, y = sample_joint(joint, 20000, seed=0)
    counts = np.zeros((3, 4))
    np.add.at(counts, (x, y), 1)
    assert np.abs(counts / 20000 - joint).max() < 0.015
    assert counts[joint == 0].sum() == 0
    independent = random_joint(3, 4, seed=1, dependence=0.0)
    np.testing.assert_allclose(independent, np.outer(independent.sum(1), independent.sum(0)))


def test_imports_without_tensorflow():
    code = "import sys, dlkit.data.gaussians; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
