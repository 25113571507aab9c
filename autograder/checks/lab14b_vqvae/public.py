"""Public checks of lab14b_vqvae, part 1: the units of the VQ-VAE (vq.py). Quantisation
against a numpy brute force (exact ties included), the codebook lookup on a stand-in, the
straight-through estimator and the two losses by their gradients, the EMA codebook against
a numpy loop, perplexity against scipy."""

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab14b_vqvae.probes import (
    EMA_SLIPS,
    VQ,
    decided_rows,
    ema_numpy,
    judge_nearest,
)
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_shape,
    expect_true,
)


def tie_case(rng):
    """Integer codes, one of them repeated, and points exactly halfway between two codes or
    on a repeated one: every squared distance is a small integer, exact in float32 whatever
    the order of the sums, so the ties are exact."""
    codebook = 2.0 * rng.integers(-2, 3, size=(6, 3))
    codebook[4] = codebook[1]
    pairs = rng.integers(0, 6, size=(20, 2))
    z = np.concatenate([(codebook[pairs[:, 0]] + codebook[pairs[:, 1]]) / 2, codebook])
    return z.astype("float32"), codebook.astype("float32")


@check(points=2, uses=VQ, task="`nearest_code`",
       hint="squared distances (M, K) from every vector to every code, then tf.argmin over the "
            "codes (it breaks ties towards the lowest index), as int32")
def nearest_code_brute_force(lab, rng):
    """On random vectors and codes of very different norms, and on integer vectors with
    exact ties (a repeated code, points halfway between two codes): the indices against a
    numpy brute force over every distance, ties to the lowest index."""
    codebook = (rng.normal(size=(7, 3)) * rng.uniform(0.2, 3.0, size=(7, 1))).astype("float32")
    z = rng.normal(scale=1.5, size=(40, 3)).astype("float32")
    tie_z, tie_codebook = tie_case(rng)
    return {"z": z, "codebook": codebook, "indices": np.asarray(lab.vq.nearest_code(z, codebook)),
            "tie_z": tie_z, "tie_codebook": tie_codebook,
            "tie_indices": np.asarray(lab.vq.nearest_code(tie_z, tie_codebook))}


@nearest_code_brute_force.verdict
def _(student, _reference):
    judge_nearest(student["indices"], student["z"], student["codebook"],
                  "nearest_code(z, codebook) for 40 vectors and 7 codes",
                  decided=decided_rows(student["z"], student["codebook"]))
    judge_nearest(student["tie_indices"], student["tie_z"], student["tie_codebook"],
                  "nearest_code(z, codebook) on exact ties (a repeated code, points halfway "
                  "between two codes)")


def nearest_by_l1(z, codebook):
    """The stand-in for nearest_code in the lookup check: codes by L1 distance, a rule that
    is not the lab's, so the check sees that lookup uses what nearest_code returns."""
    import tensorflow as tf
    z, codebook = tf.cast(z, tf.float32), tf.cast(codebook, tf.float32)
    l1 = tf.reduce_sum(tf.abs(z[:, None, :] - codebook[None, :, :]), axis=-1)
    return tf.argmin(l1, axis=-1, output_type=tf.int32)


@check(points=1, uses=VQ, task="`VectorQuantizer.lookup`",
       hint="flatten z to (M, D), nearest_code(flat, self.codebook), q = tf.gather(codebook, "
            "indices), then q back to z's shape and the indices to z's shape without D")
def codebook_lookup(lab, rng):
    """A VectorQuantizer(5, 3) on a grid z (2, 3, 4, 3), with a stand-in nearest_code (codes
    by L1 distance): the indices (2, 3, 4) and q = the codebook rows of the indices, and the
    gradient of q reaches those rows of the codebook."""
    import tensorflow as tf
    layer = lab.vq.VectorQuantizer(5, 3)
    layer.build()
    codebook = rng.normal(size=(5, 3)).astype("float32")
    layer.codebook.assign(codebook)
    z = rng.normal(size=(2, 3, 4, 3)).astype("float32")
    weights = rng.normal(size=(2, 3, 4, 3)).astype("float32")
    with standing_in(lab.vq, nearest_code=nearest_by_l1):
        with tf.GradientTape() as tape:
            q, indices = layer.lookup(tf.constant(z))
            total = tf.reduce_sum(tf.cast(q, tf.float32) * weights)
        gradient = tape.gradient(total, layer.codebook)
    return {"z": z, "codebook": codebook, "weights": weights, "q": np.asarray(q),
            "indices": np.asarray(indices),
            "gradient": (np.zeros((5, 3)) if gradient is None    # tf.gather's: IndexedSlices
                         else np.asarray(tf.convert_to_tensor(gradient))),
            "gradient_none": gradient is None}


@codebook_lookup.verdict
def _(student, _reference):
    z, codebook = student["z"], student["codebook"]
    flat = z.reshape(-1, 3)
    expected = np.abs(flat[:, None, :] - codebook[None]).sum(-1).argmin(1)
    what = "VectorQuantizer.lookup(z) for z (2, 3, 4, 3), with a stand-in nearest_code"
    indices = expect_shape(student["indices"], (2, 3, 4), f"the indices of {what}")
    expect_equal(indices.reshape(-1), expected, f"the indices of {what} (they must be what "
                 "nearest_code returns for the flattened (M, D) vectors)")
    expect_close(student["q"], codebook[expected].reshape(z.shape), f"the q of {what} (the "
                 "codebook rows of the indices, in z's shape)")
    expect_true(not student["gradient_none"], f"{what}: q carries no gradient to the codebook "
                "(take its rows with tf.gather on the weight itself, so codebook_loss can move "
                "them)")
    expected_gradient = np.zeros_like(codebook, dtype=np.float64)
    np.add.at(expected_gradient, expected, student["weights"].reshape(-1, 3))
    expect_close(student["gradient"], expected_gradient, "the gradient of sum(q * w) with "
                 "respect to the codebook (each row gets the w of the vectors that chose it)",
                 against="the scatter-add of w (numpy)", rtol=1e-5, atol=1e-6)


def decoder_loss(u, weights, vector):
    """A check's own decoder and loss: sum(tanh(u @ W) * v), any shape (..., D)."""
    import tensorflow as tf
    return tf.reduce_sum(tf.tanh(tf.tensordot(u, weights, 1)) * vector)


@check(points=2, uses=VQ, task="`straight_through`",
       hint="z + tf.stop_gradient(q - z): the value is q, and the gradient arriving at it goes "
            "to z unchanged, none to q")
def straight_through_gradient(lab, rng):
    """Through a check's own decoder and loss: straight_through(z, q) has the value q; the
    gradient it gives the encoder's output z is exactly the gradient of the decoder's loss at
    its input q; it gives the codebook rows q none."""
    import tensorflow as tf
    z = tf.constant(rng.normal(size=(3, 2, 2, 4)).astype("float32"))
    q = tf.constant(rng.normal(size=(3, 2, 2, 4)).astype("float32"))
    weights = tf.constant(rng.normal(size=(4, 5)).astype("float32"))
    vector = tf.constant(rng.normal(size=(5,)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([z, q])
        passed = lab.vq.straight_through(z, q)
        loss = decoder_loss(passed, weights, vector)
    to_z, to_q = tape.gradient(loss, [z, q])
    with tf.GradientTape() as tape:
        tape.watch(q)
        at_q = decoder_loss(q, weights, vector)
    return {"value": np.asarray(passed), "z": np.asarray(z), "q": np.asarray(q),
            "to_z": np.zeros(z.shape) if to_z is None else np.asarray(to_z),
            "to_q": np.zeros(q.shape) if to_q is None else np.asarray(to_q),
            "decoder_gradient": np.asarray(tape.gradient(at_q, q))}


@straight_through_gradient.verdict
def _(student, _reference):
    value, q, z = student["value"], student["q"], student["z"]
    decoder, to_z, to_q = student["decoder_gradient"], student["to_z"], student["to_q"]
    if np.shape(value) == np.shape(z) and np.allclose(value, z, atol=1e-5):
        raise CheckFailed("straight_through(z, q) returns z: its VALUE must be q (the decoder "
                          "sees the codebook rows), only its gradient goes to z")
    expect_close(value, q, "the value of straight_through(z, q)", atol=1e-5)
    if not np.any(to_z) and np.allclose(to_q, decoder, rtol=1e-4, atol=1e-5):
        raise CheckFailed("straight_through(z, q) gives the encoder's output z no gradient and "
                          "the codebook rows q all of it: the stop-gradient is missing or on "
                          "the wrong term (z + stop_gradient(q - z); z + (q - z) is just q)")
    expect_close(to_z, decoder, "the gradient that straight_through(z, q) passes to z, "
                 "through the check's decoder", rtol=1e-4, atol=1e-5,
                 against="the decoder's gradient at its input q (the encoder must get exactly "
                         "that)")
    expect_close(to_q, np.zeros_like(to_q), "the gradient that straight_through(z, q) passes "
                 "to q (the decoder's loss must not move the codebook: codebook_loss does)",
                 atol=1e-6)


@check(points=2, uses=VQ, task="`codebook_loss`, `commitment_loss`",
       hint="codebook_loss = mean((stop_gradient(z) - q)^2); commitment_loss = beta * "
            "mean((z - stop_gradient(q))^2); means over every value")
def vq_losses(lab, rng):
    """codebook_loss(z, q) and commitment_loss(z, q, beta = 0.4) on (2, 3, 3, 4) grids: the
    values against numpy; their gradients with respect to z and to q taken separately: the
    codebook loss moves only q (the codebook), the commitment loss only z (the encoder)."""
    import tensorflow as tf
    z = tf.constant(rng.normal(size=(2, 3, 3, 4)).astype("float32"))
    q = tf.constant(rng.normal(size=(2, 3, 3, 4)).astype("float32"))
    out = {"z": np.asarray(z), "q": np.asarray(q)}
    for name, loss_of in (("codebook", lambda: lab.vq.codebook_loss(z, q)),
                          ("commitment", lambda: lab.vq.commitment_loss(z, q, 0.4))):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([z, q])
            loss = loss_of()
        to_z, to_q = tape.gradient(loss, [z, q])
        out[name] = np.asarray(loss, dtype=np.float64)
        out[f"{name}_to_z"] = np.zeros(z.shape) if to_z is None else np.asarray(to_z)
        out[f"{name}_to_q"] = np.zeros(q.shape) if to_q is None else np.asarray(to_q)
    return out


@vq_losses.verdict
def _(student, _reference):
    z, q = student["z"].astype(np.float64), student["q"].astype(np.float64)
    size, beta = z.size, 0.4
    mse = float(np.mean((z - q) ** 2))
    expect_close_naming(student["codebook"], mse, "codebook_loss(z, q)", [
        (mse * size, "that is the SUM of the squared differences: take the mean over every "
                     "value"),
        (beta * mse, "codebook_loss has no beta: only the commitment loss is weighted")])
    expect_close_naming(student["commitment"], beta * mse, "commitment_loss(z, q, beta=0.4)", [
        (mse, "beta is missing: commitment_loss = beta * mean((z - stop_gradient(q))^2)"),
        (beta * mse * size, "that is beta times the SUM: take the mean over every value")])
    grads = {name: student[name] for name in ("codebook_to_z", "codebook_to_q",
                                              "commitment_to_z", "commitment_to_q")}
    if np.any(grads["codebook_to_z"]) and not np.any(grads["codebook_to_q"]) and \
            np.any(grads["commitment_to_q"]) and not np.any(grads["commitment_to_z"]):
        raise CheckFailed("the two losses are swapped: codebook_loss moves the encoder's "
                          "output z and commitment_loss the codebook. The codebook loss "
                          "stops the gradient on z (it moves the codes), the commitment loss "
                          "on q (it moves the encoder)")
    for loss, moved, still, expected in (
            ("codebook", "q", "z", 2 * (q - z) / size),
            ("commitment", "z", "q", 2 * beta * (z - q) / size)):
        if np.any(grads[f"{loss}_to_{still}"]):
            raise CheckFailed(f"{loss}_loss gives {still} a gradient: stop_gradient on "
                              f"{still} (the {loss} loss may only move {moved})")
        expect_close(grads[f"{loss}_to_{moved}"], expected, f"the gradient of "
                     f"{loss}_loss(z, q) with respect to {moved}", rtol=1e-4, atol=1e-6,
                     against="numpy's")


def ema_state(rng, num_codes=5, dim=3):
    """Running counts at random but code 1's at 0, never chosen (its sum 0 too: without
    smoothing the codebook divides 0 by 0), and sums at random."""
    cluster_size = rng.uniform(0.5, 2.0, size=num_codes)
    cluster_size[1] = 0.0
    code_sum = rng.normal(size=(num_codes, dim))
    code_sum[1] = 0.0
    return cluster_size.astype("float32"), code_sum.astype("float32")


def ema_trajectory(lab, rng, steps, decay, epsilon, num_codes=5, dim=3, batch=6):
    """The student's ema_update applied `steps` times, its outputs fed back."""
    cluster_size, code_sum = ema_state(rng, num_codes, dim)
    out = {"cluster_size_0": cluster_size, "code_sum_0": code_sum, "z": [], "indices": [],
           "cluster_size": [], "code_sum": [], "codebook": []}
    used = [k for k in range(num_codes) if k != 1]
    for _ in range(steps):
        z = rng.normal(size=(batch, dim)).astype("float32")
        indices = rng.choice(used, size=batch).astype("int32")
        result = lab.vq.ema_update(cluster_size, code_sum, z, indices, decay, epsilon)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise ValueError("ema_update must return (cluster_size, code_sum, codebook), got "
                             f"{type(result).__name__}")
        cluster_size, code_sum, codebook = (np.asarray(a, dtype="float32") for a in result)
        for name, value in (("z", z), ("indices", indices), ("cluster_size", cluster_size),
                            ("code_sum", code_sum), ("codebook", codebook)):
            out[name].append(value)
    return out


def judge_ema_trajectory(student, decay, epsilon, what):
    cluster_size, code_sum = student["cluster_size_0"], student["code_sum_0"]
    for step, (z, indices) in enumerate(zip(student["z"], student["indices"])):
        expected = ema_numpy(cluster_size, code_sum, z, indices, decay, epsilon)
        got = [student[name][step] for name in ("cluster_size", "code_sum", "codebook")]
        if not np.all(np.isfinite(got[2])) and np.all(np.isfinite(expected[2])):
            raise CheckFailed(f"the codebook of {what} after step {step + 1} holds NaN or inf "
                              "where a code was never chosen (its count and sum are 0): "
                              "Laplace smoothing keeps every count away from 0, smoothed = "
                              "(cluster_size + epsilon) / (n + K * epsilon) * n")
        for index, name in enumerate(("cluster_size", "code_sum", "codebook")):
            mistakes = [(ema_numpy(cluster_size, code_sum, z, indices, decay, epsilon,
                                   variant)[index], slip) for variant, slip in EMA_SLIPS.items()]
            expect_close_naming(got[index], expected[index], f"the {name} of {what} after "
                                f"step {step + 1}", mistakes, rtol=1e-4, atol=1e-5)
        # The next step starts where the student's left (equal to numpy's by now).
        cluster_size, code_sum = got[0], got[1]


@check(points=2, uses=VQ, task="`ema_update`, `VectorQuantizer.update_codebook`",
       hint="n_k = counts of each code, s_k = sums of its vectors; cluster_size <- decay * "
            "cluster_size + (1 - decay) * n_k (code_sum alike); codebook = code_sum / "
            "((cluster_size + eps) / (n + K eps) * n)")
def ema_codebook(lab, rng):
    """ema_update over 4 steps (K = 5, decay 0.8, epsilon 0.5, a code never used, its count
    starting at 0), its outputs fed back, against a numpy loop over the vectors; then
    VectorQuantizer(5, 3, ema_decay=0.8, epsilon=0.5).update_codebook on a (2, 3, 3) grid:
    the three weights it assigns."""
    out = ema_trajectory(lab, rng, steps=4, decay=0.8, epsilon=0.5)
    layer = lab.vq.VectorQuantizer(5, 3, ema_decay=0.8, epsilon=0.5)
    layer.build()
    cluster_size, code_sum = ema_state(rng)
    layer.cluster_size.assign(cluster_size)
    layer.code_sum.assign(code_sum)
    z = rng.normal(size=(2, 3, 3)).astype("float32")
    indices = rng.choice([0, 2, 3, 4], size=(2, 3)).astype("int32")
    layer.update_codebook(z, indices)
    out["layer"] = {"z": z, "indices": indices, "cluster_size_0": cluster_size,
                    "code_sum_0": code_sum, "cluster_size": np.asarray(layer.cluster_size),
                    "code_sum": np.asarray(layer.code_sum),
                    "codebook": np.asarray(layer.codebook)}
    return out


@ema_codebook.verdict
def _(student, _reference):
    judge_ema_trajectory(student, 0.8, 0.5, "ema_update(..., decay=0.8, epsilon=0.5)")
    layer = student["layer"]
    expected = ema_numpy(layer["cluster_size_0"], layer["code_sum_0"],
                         layer["z"].reshape(-1, 3), layer["indices"].reshape(-1), 0.8, 0.5)
    for index, name in enumerate(("cluster_size", "code_sum", "codebook")):
        expect_close(layer[name], expected[index], f"VectorQuantizer.{name} after "
                     "update_codebook(z, indices) for z (2, 3, 3) (flatten to (6, 3) and (6,), "
                     "ema_update with the layer's decay and epsilon, assign all three)",
                     rtol=1e-4, atol=1e-5)


USAGES = {"uniform": (8, np.arange(64) % 8), "one_code": (8, np.full(30, 5)),
          "skewed": (6, np.repeat([0, 2, 3, 5], [10, 5, 3, 2]))}


@check(points=1, uses=VQ, task="`perplexity`",
       hint="p = counts / total (the column sums of tf.one_hot(indices, K)); exp(-sum p log p) "
            "in nats, with 0 log 0 = 0 (tf.math.xlogy)")
def perplexity_of_usage(lab, rng):
    """Every code used equally (K = 8), one code only, and a skewed usage with unused codes
    (K = 6), the indices in two rows: the perplexity against exp(scipy.stats.entropy(counts))."""
    out = {}
    for name, (num_codes, indices) in USAGES.items():
        shaped = rng.permutation(indices).reshape(2, -1).astype("int32")
        out[name] = np.asarray(lab.vq.perplexity(shaped, num_codes), dtype=np.float64)
    return out


@perplexity_of_usage.verdict
def _(student, _reference):
    from scipy.stats import entropy
    for name, (num_codes, indices) in USAGES.items():
        counts = np.bincount(indices, minlength=num_codes)
        nats = entropy(counts)
        what = f"perplexity of {int((counts > 0).sum())} codes used {counts.tolist()} times"
        value = np.asarray(student[name], dtype=np.float64)
        if value.size == 1 and not np.isfinite(value.reshape(())):
            raise CheckFailed(f"{what} is {float(value.reshape(()))}: an unused code gives "
                              "0 * log 0, which must count as 0 (tf.math.xlogy(p, p))")
        expect_close_naming(value, np.exp(nats), what, [
            (np.exp(nats / np.log(2.0)), "that is exp of the entropy in BITS: exp goes with "
                                         "the natural log (or 2 ** the entropy in bits)"),
            (np.float64(nats), "that is the entropy; the perplexity is exp(entropy)"),
            (2.0 ** nats, "that is 2 ** the entropy in nats: exp goes with the natural log")],
            rtol=1e-4, atol=1e-5)


