"""Shapley values: exact by enumeration of coalitions, the Monte-Carlo permutation estimate,
and Kernel SHAP as a weighted linear regression.

A game of M players is a value function v: value_fn(masks) takes a bool array (K, M), one
coalition per row (masks[k, i] True when player i is in coalition k), and returns the K
values as an array (K,). Evaluate coalitions in batches: one call per coalition is slow.
Explaining a model's prediction at x makes its features the players (masked_value_function).
"""
from __future__ import annotations

import math

import numpy as np

# ---- Given helpers -----------------------------------------------------------------------

def all_coalitions(n_players: int) -> np.ndarray:
    """Every coalition of n_players, (2^M, M) bool: row r holds the binary digits of r,
    player i being bit i (row 0 is the empty coalition, the last row everyone)."""
    rows = np.arange(2 ** n_players)[:, None]
    return ((rows >> np.arange(n_players)[None, :]) & 1).astype(bool)


def values_of(value_fn, masks) -> np.ndarray:
    """value_fn on a bool array of coalitions, as float64 (K,)."""
    masks = np.asarray(masks, dtype=bool)
    values = np.asarray(value_fn(masks), dtype=np.float64).reshape(-1)
    if values.shape != (len(masks),):
        raise ValueError(f"value_fn returned {values.shape[0]} values for {len(masks)} coalitions")
    return values


# ---- The value function of a model explanation -----------------------------------------

def masked_value_function(model_fn, x, background):
    """The value function that explains model_fn at one input x (M,): v(S) is the mean over
    the background rows b (B, M) of model_fn(z), where z takes the features in S from x and
    the others from b (the "interventional" value function of SHAP). model_fn maps a float
    array (n, M) to predictions (n,). Returns value_fn(masks (K, M)) -> (K,)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    background = np.asarray(background, dtype=np.float64)

    def value_fn(masks):
        masks = np.asarray(masks, dtype=bool)
        z = np.where(masks[:, None, :], x[None, None, :], background[None, :, :])
        K, B, M = z.shape
        out = np.asarray(model_fn(z.reshape(K * B, M)), dtype=np.float64).reshape(K, B)
        return out.mean(axis=1)
    return value_fn


# ---- Exact Shapley values ----------------------------------------------------------------

def shapley_weight(n_players: int, size) -> np.ndarray:
    """The weight of a coalition S of `size` players (not holding i) in player i's Shapley
    value: |S|! (M - |S| - 1)! / M!. size: int or int array; returns float64 of its shape."""
    size = np.asarray(size)
    f = np.vectorize(lambda s: math.factorial(int(s)) * math.factorial(n_players - int(s) - 1)
                     / math.factorial(n_players), otypes=[np.float64])
    return np.asarray(f(size), dtype=np.float64)


def exact_shapley(value_fn, n_players: int) -> np.ndarray:
    """Exact Shapley values (M,) float64 by enumerating all 2^M coalitions once:
    phi_i = sum over S not holding i of shapley_weight(M, |S|) (v(S + i) - v(S))."""
    masks = all_coalitions(n_players)
    values = values_of(value_fn, masks)
    sizes = masks.sum(axis=1)
    phi = np.zeros(n_players)
    rows = np.arange(len(masks))
    for i in range(n_players):
        without = rows[~masks[:, i]]
        weights = shapley_weight(n_players, sizes[without])
        phi[i] = np.sum(weights * (values[without + 2 ** i] - values[without]))
    return phi


# ---- Monte-Carlo permutations ------------------------------------------------------------

def permutation_shapley(value_fn, n_players: int, permutations: int,
                        seed: int = 0) -> np.ndarray:
    """The Monte-Carlo estimate of the Shapley values (M,) float64: the mean over `permutations`
    random orders of each player's marginal contribution v(P + i) - v(P), P the players
    before i. Draw the orders one after the other, each as rng.permutation(n_players), with
    rng = np.random.default_rng(seed); evaluate all the coalitions of all orders in ONE
    value_fn call (each order has M + 1 prefixes, from empty to everyone)."""
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(n_players) for _ in range(permutations)]
    masks = np.zeros((permutations, n_players + 1, n_players), dtype=bool)
    for p, order in enumerate(orders):
        for j in range(n_players):
            masks[p, j + 1:, order[j]] = True
    values = values_of(value_fn, masks.reshape(-1, n_players)).reshape(permutations, n_players + 1)
    phi = np.zeros(n_players)
    for p, order in enumerate(orders):
        phi[order] += np.diff(values[p])
    return phi / permutations


# ---- Kernel SHAP -------------------------------------------------------------------------

def shapley_kernel(n_players: int, size) -> np.ndarray:
    """The Shapley kernel weight of a coalition of `size` players (Lundberg and Lee, 2017):
    (M - 1) / (C(M, |S|) |S| (M - |S|)), infinite for the empty and the full coalition.
    size: int or int array; returns float64 of its shape."""
    size = np.asarray(size)
    def k(s):
        s = int(s)
        if s == 0 or s == n_players:
            return np.inf
        return (n_players - 1) / (math.comb(n_players, s) * s * (n_players - s))
    return np.asarray(np.vectorize(k, otypes=[np.float64])(size), dtype=np.float64)


def kernel_shap(value_fn, n_players: int) -> np.ndarray:
    """Kernel SHAP with every coalition enumerated: the phi (M,) float64 minimising
    sum_S shapley_kernel(|S|) (v(S) - v(empty) - sum_{i in S} phi_i)^2 over the coalitions
    0 < |S| < M, subject to the efficiency constraint sum_i phi_i = v(everyone) - v(empty)
    (the two infinite weights). Solve it as a weighted least-squares problem in M - 1
    unknowns, eliminating the last player through the constraint."""
    masks = all_coalitions(n_players)
    values = values_of(value_fn, masks)
    sizes = masks.sum(axis=1)
    middle = (sizes > 0) & (sizes < n_players)
    z = masks[middle].astype(np.float64)
    v0, total = values[0], values[-1] - values[0]
    target = values[middle] - v0 - z[:, -1] * total
    design = z[:, :-1] - z[:, -1:]
    w = np.sqrt(shapley_kernel(n_players, sizes[middle]))
    sol = np.linalg.lstsq(design * w[:, None], target * w, rcond=None)[0]
    return np.append(sol, total - sol.sum())
