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
        K, (B, M) = len(masks), background.shape
        z = np.where(masks[:, None, :], x, background)
        preds = np.asarray(model_fn(z.reshape(-1, M))).reshape(K, B)
        return preds.mean(axis=-1)
    return value_fn


# ---- Exact Shapley values ----------------------------------------------------------------

def shapley_weight(n_players: int, size) -> np.ndarray:
    """The weight of a coalition S of `size` players (not holding i) in player i's Shapley
    value: |S|! (M - |S| - 1)! / M!. size: int or int array; returns float64 of its shape."""
    sizes = np.asarray(size, dtype=np.int64)
    table = np.array([math.factorial(k) * math.factorial(n_players - k - 1)
                      for k in range(n_players)], dtype=np.float64) / math.factorial(n_players)
    return table[sizes].astype(np.float64)


def exact_shapley(value_fn, n_players: int) -> np.ndarray:
    """Exact Shapley values (M,) float64 by enumerating all 2^M coalitions once:
    phi_i = sum over S not holding i of shapley_weight(M, |S|) (v(S + i) - v(S))."""
    masks = all_coalitions(n_players)
    values = values_of(value_fn, masks)
    sizes = masks.sum(axis=1)
    phi = np.zeros(n_players, dtype=np.float64)
    for r in range(len(masks)):
        s = sizes[r]
        if s == n_players:
            continue
        w = shapley_weight(n_players, s)
        for i in np.flatnonzero(~masks[r]):
            phi[i] += w * (values[r + (1 << i)] - values[r])
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
    M = n_players
    orders = np.stack([rng.permutation(M) for _ in range(permutations)]) if permutations else np.zeros((0, M), int)
    # rank[p, i] = position of player i in order p; prefix j holds the players of rank < j
    rank = np.argsort(orders, axis=1)
    masks = rank[:, None, :] < np.arange(M + 1)[None, :, None]   # (P, M+1, M)
    values = values_of(value_fn, masks.reshape(-1, M)).reshape(permutations, M + 1)
    gains = values[:, 1:] - values[:, :-1]                           # gains[p, j] for player orders[p, j]
    phi = np.zeros(M)
    np.add.at(phi, orders.reshape(-1), gains.reshape(-1))
    return phi / permutations


# ---- Kernel SHAP -------------------------------------------------------------------------

def shapley_kernel(n_players: int, size) -> np.ndarray:
    """The Shapley kernel weight of a coalition of `size` players (Lundberg and Lee, 2017):
    (M - 1) / (C(M, |S|) |S| (M - |S|)), infinite for the empty and the full coalition.
    size: int or int array; returns float64 of its shape."""
    s = np.asarray(size, dtype=np.int64)
    M = n_players
    comb = np.vectorize(lambda k: float(math.comb(M, int(k))), otypes=[np.float64])(s)
    with np.errstate(divide="ignore"):
        out = (M - 1) / (comb * s * (M - s))
    return np.where((s == 0) | (s == M), np.inf, out).astype(np.float64)


def kernel_shap(value_fn, n_players: int) -> np.ndarray:
    """Kernel SHAP with every coalition enumerated: the phi (M,) float64 minimising
    sum_S shapley_kernel(|S|) (v(S) - v(empty) - sum_{i in S} phi_i)^2 over the coalitions
    0 < |S| < M, subject to the efficiency constraint sum_i phi_i = v(everyone) - v(empty)
    (the two infinite weights). Solve it as a weighted least-squares problem in M - 1
    unknowns, eliminating the last player through the constraint."""
    masks = all_coalitions(n_players)
    values = values_of(value_fn, masks)
    M = n_players
    sizes = masks.sum(axis=1)
    keep = (sizes > 0) & (sizes < M)
    Z = masks[keep].astype(np.float64)
    v_empty = values[0]
    total = values[-1] - v_empty
    y = values[keep] - v_empty - Z[:, -1] * total
    A = Z[:, :-1] - Z[:, -1:]
    W = shapley_kernel(M, sizes[keep])
    # weighted normal equations (A^T W A) b = A^T W y
    AtW = A.T * W
    beta = np.linalg.solve(AtW @ A, AtW @ y)
    return np.concatenate([beta, [total - beta.sum()]])
