"""The gridworld of lab22 (dlkit.data.gridworld): numpy only, seeded, a valid MDP."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from dlkit.data import make_gridworld

REPO = Path(__file__).resolve().parents[1]


def test_gridworld_is_a_valid_seeded_mdp():
    world = make_gridworld(4, slip=0.2, seed=3)
    p, r = world["transitions"], world["rewards"]
    assert p.shape == (16, 4, 16) and r.shape == (16, 4)
    assert np.allclose(p.sum(axis=2), 1.0) and (p >= 0).all()
    for s in np.flatnonzero(world["terminal"]):
        assert np.allclose(p[s, :, s], 1.0) and np.allclose(r[s], 0.0)
    assert not p[:, :, world["walls"]][~np.isin(np.arange(16), world["walls"])].any()
    again = make_gridworld(4, slip=0.2, seed=3)
    assert np.array_equal(again["transitions"], p) and again["goal"] == world["goal"]
    assert make_gridworld(4, seed=4)["goal"] != world["goal"] or \
        not np.array_equal(make_gridworld(4, seed=4)["pits"], world["pits"])


def test_gridworld_without_slip_moves_as_intended():
    world = make_gridworld(3, slip=0.0, num_pits=0, num_walls=0, seed=0)
    assert set(np.unique(world["transitions"])) <= {0.0, 1.0}


def test_gridworld_imports_no_tensorflow():
    code = "import sys, dlkit.data.gridworld; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
