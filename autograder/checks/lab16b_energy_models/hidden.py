"""Hidden checks of lab16b_energy_models: fresh sizes and seeds, judged against numpy loops
written out here (the Hebbian sums, the energy, the sweeps of recall, the CD-k update
replayed from the recorded draws, a Langevin step and the contrastive loss in 3-D) and
against enumeration on RBMs of other shapes."""
import numpy as np

from autograder.api import check
from autograder.checks.lab16b_energy_models.probes import (
    EBM,
    HOPFIELD,
    RBM,
    RecordedSampler,
    binary_table,
    brute_force,
    random_rbm,
    rbm_weights,
    spins,
    symmetric_weights,
)
from autograder.verdicts import expect_close, expect_equal, expect_true


def _sign_keeping(field, state):
    return 1.0 if field > 0 else (-1.0 if field < 0 else state)


def _loop_sweep(weights, states, order):
    swept = np.array(states, dtype=float)
    for row in swept:
        for i in order:
            field = sum(weights[i, j] * row[j] for j in range(len(row)))
            row[i] = _sign_keeping(field, row[i])
    return swept


@check(points=1, uses=HOPFIELD, reference=False,
       hint="the Hebbian rule, the energy, asynchronous sweeps and recall for any N and P")
def hopfield_against_loops(lab, rng):
    """Fresh N and P: the Hebbian weights, the energies, one asynchronous sweep and recall
    against loops over every unit and pattern."""
    units, count = int(rng.integers(13, 21)), int(rng.integers(2, 5))
    patterns = spins(rng, count, units)
    hebbian = np.zeros((units, units))
    for i in range(units):
        for j in range(units):
            if i != j:
                hebbian[i, j] = sum(p[i] * p[j] for p in patterns) / units
    glass, states = symmetric_weights(rng, units), spins(rng, 5, units)
    energies = [-0.5 * sum(glass[i, j] * s[i] * s[j] for i in range(units) for j in range(units))
                for s in states]
    order = rng.permutation(units)
    seed = int(rng.integers(1000))
    order_rng, expected = np.random.default_rng(seed), states.copy()
    for _ in range(3):
        swept = _loop_sweep(glass, expected, order_rng.permutation(units))
        if np.array_equal(swept, expected):
            break
        expected = swept
    hop = lab.hopfield
    return {"hebbian": hop.hebbian_weights(patterns), "hebbian_expected": hebbian,
            "energy": hop.energy(glass, states), "energy_expected": np.array(energies),
            "sweep": hop.asynchronous_update(glass, states.copy(), order),
            "sweep_expected": _loop_sweep(glass, states, order),
            "recall": hop.recall(glass, states.copy(), seed, max_sweeps=3),
            "recall_expected": expected}


@hopfield_against_loops.verdict
def _(student, _reference):
    expect_close(student["hebbian"], student["hebbian_expected"], "hebbian_weights",
                 against="the sums over the patterns")
    expect_close(student["energy"], student["energy_expected"], "energy",
                 against="the double sum over the units")
    expect_equal(student["sweep"], student["sweep_expected"], "asynchronous_update")
    expect_equal(student["recall"], student["recall_expected"], "recall (max_sweeps=3)")


@check(points=1, uses=RBM, reference=False,
       hint="conditionals, free energy and log Z for any numbers of visible and hidden units")
def rbm_other_shapes(lab, rng):
    """An RBM of fresh shape (3 to 6 units each side): conditionals, free energy, log Z and
    log-likelihood against enumeration."""
    visible, hidden = (int(n) for n in rng.integers(3, 7, size=2))
    model, W, b, c = random_rbm(lab, rng, visible, hidden, scale=0.8)
    vs = binary_table(visible).astype("float32")
    truth = brute_force(W, b, c)
    return {"hidden": model.hidden_probabilities(vs), "hidden_expected": truth["p_hidden"],
            "visible": model.visible_probabilities(truth["hidden_table"].astype("float32")),
            "visible_expected": truth["p_visible_given_h"],
            "free_energy": model.free_energy(vs), "free_energy_expected": truth["free_energy"],
            "log_z": float(np.asarray(model.log_partition())), "log_z_expected": truth["log_z"],
            "log_likelihood": model.log_likelihood(vs), "log_p": np.log(truth["p_v"])}


@rbm_other_shapes.verdict
def _(student, _reference):
    for name, expected in (("hidden", "hidden_expected"), ("visible", "visible_expected"),
                           ("free_energy", "free_energy_expected"), ("log_z", "log_z_expected"),
                           ("log_likelihood", "log_p")):
        expect_close(np.asarray(student[name], dtype=np.float64), student[expected], name,
                     rtol=1e-4, atol=1e-4, against="enumeration")


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


@check(points=1, uses=RBM, reference=False,
       hint="CD-k: the gradient of mean F(data) - mean F(chain's end), k Gibbs steps from the "
            "batch")
def cd_step_numpy_replay(lab, rng):
    """One CD-2 step (fresh sizes, SGD at 0.3) with recorded draws, against the CD-2 update
    computed in numpy from the same draws: lr * (v0^T p(h|v0) - v2^T p(h|v2)) / N and the
    biases alike."""
    import keras
    visible, hidden = int(rng.integers(4, 8)), int(rng.integers(3, 6))
    model, W, b, c = random_rbm(lab, rng, visible, hidden, scale=0.7, k=2)
    model.compile(optimizer=keras.optimizers.SGD(0.3))
    data = rng.integers(0, 2, size=(10, visible)).astype("float32")
    sampler = RecordedSampler(int(rng.integers(1000)))
    model.sample = sampler
    before = rbm_weights(model)
    model.train_step(data)
    after = rbm_weights(model)
    if len(sampler.returned) < 4:
        return {"calls": len(sampler.returned)}
    # The draws were h0, v1, h1, v2: the chain's end is the fourth.
    v0, vk = data.astype(np.float64), sampler.returned[3].astype(np.float64)
    h0, hk = _sigmoid(v0 @ W + c), _sigmoid(vk @ W + c)
    expected = [0.3 * (v0.T @ h0 - vk.T @ hk) / len(v0), 0.3 * (v0 - vk).mean(0),
                0.3 * (h0 - hk).mean(0)]
    return {"updates": [a - b for a, b in zip(after, before)], "expected": expected,
            "calls": len(sampler.returned)}


@cd_step_numpy_replay.verdict
def _(student, _reference):
    expect_true(student["calls"] >= 4, f"CD-2's train_step drew {student['calls']} samples "
                "with self.sample: two Gibbs steps draw h, v, h, v")
    for name, got, want in zip(("kernel", "visible_bias", "hidden_bias"), student["updates"],
                               student["expected"]):
        expect_close(got, want, f"the CD-2 update of {name}", rtol=1e-3, atol=1e-5,
                     against="the numpy replay with the same draws")


@check(points=1, uses=EBM, reference=False,
       hint="Langevin and the contrastive loss for any dimension, step size and alpha")
def ebm_other_dimension(lab, rng):
    """A 3-D quadratic energy, a fresh step size and alpha: one Langevin step and the
    contrastive loss against numpy."""
    import tensorflow as tf
    a = rng.normal(size=(3, 3))
    a = a @ a.T + np.eye(3)
    mu = rng.normal(size=3)
    a_t, mu_t = tf.constant(a, tf.float32), tf.constant(mu, tf.float32)

    def energy_fn(x):
        d = x - mu_t
        return 0.5 * tf.reduce_sum(tf.matmul(d, a_t) * d, axis=-1)

    x, noise = rng.normal(size=(9, 3)), rng.normal(size=(9, 3))
    step, alpha = float(rng.uniform(0.05, 0.4)), float(rng.uniform(0.05, 0.5))
    data = rng.normal(size=(7, 3))
    moved = lab.ebm.langevin_step(energy_fn, tf.constant(x, tf.float32), step,
                                  tf.constant(noise, tf.float32))
    loss = lab.ebm.contrastive_loss(energy_fn, tf.constant(data, tf.float32),
                                    tf.constant(x, tf.float32), alpha)[0]
    e_data = 0.5 * np.einsum("ni,ij,nj->n", data - mu, a, data - mu)
    e_samples = 0.5 * np.einsum("ni,ij,nj->n", x - mu, a, x - mu)
    return {"moved": np.asarray(moved),
            "moved_expected": x - step / 2 * (x - mu) @ a + np.sqrt(step) * noise,
            "loss": float(np.asarray(loss)),
            "loss_expected": float(e_data.mean() - e_samples.mean()
                                   + alpha * ((e_data ** 2).mean() + (e_samples ** 2).mean()))}


@ebm_other_dimension.verdict
def _(student, _reference):
    expect_close(student["moved"], student["moved_expected"], "langevin_step in 3-D",
                 rtol=1e-4, atol=1e-4, against="numpy")
    expect_close(student["loss"], student["loss_expected"], "contrastive_loss in 3-D",
                 rtol=1e-4, atol=1e-4, against="numpy")
