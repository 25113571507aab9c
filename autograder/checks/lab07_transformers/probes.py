"""Helpers the checks of lab07_transformers share (public and hidden): data, multi-head
attention against Keras's, the block against its own sublayers, the causality proof and the
patches. The stand-in components live in standins.py.

Probes run in the worker and import TensorFlow/Keras inside their functions; verdicts run
in the grader: this module imports numpy only at its top level.
"""
import re

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab07_transformers.standins import standins
from autograder.verdicts import expect_close, expect_true

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def toy_language(n, length, vocab_size, seed, periods=(2, 3, 4)):
    """n sequences of `length` tokens, each a random motif of 2, 3 or 4 tokens (ids 1 ..
    vocab_size - 1) repeated: after the first period every token is the one `period` places
    back, so a model predicts it only by attending to the right earlier position.
    (The notebook draws the same language; the checks draw their own data.)"""
    rng = np.random.default_rng(seed)
    period = rng.choice(periods, size=n)
    motif = rng.integers(1, vocab_size, size=(n, max(periods)))
    positions = np.arange(length)
    return motif[np.arange(n)[:, None], positions[None, :] % period[:, None]].astype("int32")


def random_mask(rng, shape):
    """Random booleans with at least one allowed key in every row (the last axis)."""
    mask = rng.random(shape) < 0.6
    rows = mask.reshape(-1, shape[-1])
    rows[np.arange(len(rows)), rng.integers(0, shape[-1], size=len(rows))] = True
    return rows.reshape(shape)


def cross_entropy_np(logits, targets):
    """Mean next-token cross-entropy in nats and argmax accuracy, in float64 numpy.
    logits: (N, T, V); targets: (N, T) ints."""
    from scipy.special import log_softmax
    logits = np.array(logits, np.float64)
    log_probs = log_softmax(logits, axis=-1)
    picked = np.take_along_axis(log_probs, np.asarray(targets)[..., None], axis=-1)[..., 0]
    return float(-picked.mean()), float(np.mean(logits.argmax(axis=-1) == targets))


def error_text(error):
    """An exception raised by the student's code, as a short message for a verdict: Keras's
    wrapping, TensorFlow's node names and terminal colours removed."""
    text = re.sub(r"\x1b\[[0-9;]*m|\{\{[^}]*\}\}", "", str(error))
    text = re.sub(r"Exception encountered when calling [\w.]+\(\)\.", "", text)
    text = " ".join(text.split("Arguments received")[0].split())
    return f"{type(error).__name__}: {text}"[:300]


# ---------------------------------------------------------------------------------------------
# Multi-head attention against keras.layers.MultiHeadAttention
# ---------------------------------------------------------------------------------------------


def copy_keras_mha_weights(keras_mha, student):
    """Put keras.layers.MultiHeadAttention's weights into the student's layer.

    Keras keeps per-head kernels: query/key/value (D_in, H, Dh) and output (H, Dh, D). A
    row-major reshape to (D_in, H * Dh) and (H * Dh, D) makes feature h * Dh + j head h's
    j-th: exactly the layout split_heads and merge_heads use."""
    pairs = [(keras_mha._query_dense, student.query_dense),
             (keras_mha._key_dense, student.key_dense),
             (keras_mha._value_dense, student.value_dense),
             (keras_mha._output_dense, student.output_dense)]
    for source, target in pairs:
        kernel, bias = (np.asarray(w.numpy()) for w in (source.kernel, source.bias))
        target.kernel.assign(kernel.reshape(target.kernel.shape))
        target.bias.assign(bias.reshape(target.bias.shape))


def mha_against_keras(lab, rng, *, batch, query_length, value_length, width, value_width,
                      num_heads, head_dim):
    """The student's MultiHeadAttention and Keras's, same weights, same separate key and value
    inputs: without a mask, with a random (N, T, S) mask and with a random (T, S) mask (the
    shape of the causal mask MiniGPT.decode passes). Keras's outputs with key and value
    swapped, and with the key ignored, name those mistakes."""
    import keras
    query = rng.normal(size=(batch, query_length, width)).astype("float32")
    value = rng.normal(size=(batch, value_length, value_width)).astype("float32")
    key = rng.normal(size=(batch, value_length, value_width)).astype("float32")
    mask = random_mask(rng, (batch, query_length, value_length))
    mask_2d = random_mask(rng, (query_length, value_length))
    reference = keras.layers.MultiHeadAttention(num_heads, head_dim)
    reference(query, value, key=key)
    for weight in reference.trainable_weights:   # biases too: Keras starts them at 0
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    student = lab.transformer.MultiHeadAttention(num_heads, head_dim)
    student(query, value, key=key)
    copy_keras_mha_weights(reference, student)
    out = {"config": f"MultiHeadAttention(num_heads={num_heads}, head_dim={head_dim}) on "
                     f"query ({batch}, {query_length}, {width}), key and value "
                     f"({batch}, {value_length}, {value_width})",
           "unmasked": student(query, value, key=key),
           "keras_unmasked": reference(query, value, key=key),
           "keras_swapped": reference(query, key, key=value),
           "keras_key_ignored": reference(query, value)}
    for name, given in (("masked", mask), ("masked_2d", mask_2d)):
        full = np.broadcast_to(given, (batch, query_length, value_length))
        out[f"keras_{name}"], out[f"keras_{name}_scores"] = reference(
            query, value, key=key, attention_mask=full, return_attention_scores=True)
        try:
            out[name], out[f"{name}_scores"] = student(
                query, value, key=key, attention_mask=given, return_attention_scores=True)
            out[f"{name}_error"] = ""
        except Exception as error:  # the message goes to the student
            out[f"{name}_error"] = error_text(error)
    return out


def judge_mha_against_keras(student):
    config = student["config"]
    unmasked, tolerances = np.asarray(student["unmasked"]), {"rtol": 1e-3, "atol": 1e-4}
    if np.shape(unmasked) == np.shape(student["keras_unmasked"]) and \
            not np.allclose(unmasked, student["keras_unmasked"], **tolerances):
        for variant, mistake in (
                ("keras_swapped", "key and value are swapped: key_dense must project the key "
                                  "input and value_dense the value input"),
                ("keras_key_ignored", "the key input is ignored: keys come from `key` (it "
                                      "defaults to `value` only when it is None)")):
            expect_true(not np.allclose(unmasked, student[variant], **tolerances),
                        f"{config}, no mask: {mistake}")
    expect_close(unmasked, student["keras_unmasked"], f"{config}, no mask, against "
                 "keras.layers.MultiHeadAttention with the same weights", **tolerances)
    for name, shape in (("masked", "(N, T, S)"), ("masked_2d", "(T, S)")):
        what = f"{config} with a random attention_mask of shape {shape}"
        hint = ("an (N, T, S) mask needs a head axis, (N, 1, T, S), to broadcast over the "
                "heads" if name == "masked" else "a (T, S) mask (the causal mask decode "
                "passes) already broadcasts over the batch and the heads: add the head axis "
                "only to an (N, T, S) mask")
        if student[f"{name}_error"]:
            raise CheckFailed(f"{what} failed: {hint}. The error: {student[f'{name}_error']}")
        expect_close(student[f"{name}_scores"], student[f"keras_{name}_scores"],
                     f"the attention weights (N, H, T, S) of {what}, against Keras's ({hint})",
                     rtol=1e-3, atol=1e-5)
        expect_close(student[name], student[f"keras_{name}"], f"{what}, against Keras's",
                     **tolerances)


def judge_masked_attention(student, reference, what):
    mask = np.broadcast_to(np.asarray(reference["mask"]).astype(bool),
                           np.shape(reference["weights"]))
    weights = np.asarray(student["weights"])
    expect_true(weights.shape == mask.shape, f"the weights of {what} have shape "
                f"{weights.shape}, expected {mask.shape}")
    leaked = np.abs(weights[~mask])
    if leaked.size and leaked.max() > 1e-6:
        first = tuple(int(i) for i in np.argwhere((~mask) & (np.abs(weights) > 1e-6))[0])
        raise CheckFailed(f"{what}: masked positions get weight up to {leaked.max():.3g} "
                          f"(first at index {first}); they must get exactly 0")
    sums = weights.sum(axis=-1)
    expect_true(np.allclose(sums, 1.0, atol=1e-4),
                f"{what}: each query's weights must sum to 1 over the keys, but the sums range "
                f"from {sums.min():.4g} to {sums.max():.4g} (mask the scores BEFORE the "
                "softmax, so it renormalises over the allowed keys)")
    expect_close(weights, reference["weights"], f"the weights of {what}")
    expect_close(student["output"], reference["output"], f"the output of {what}")


# ---------------------------------------------------------------------------------------------
# The block, the mini-GPT's causality, the patches
# ---------------------------------------------------------------------------------------------


def block_against_its_sublayers(lab, rng, *, batch, length, width, num_heads, mlp_dim):
    """The block's output with a stand-in attention sublayer (a masked mean, not attention)
    plugged in before it is built, random weights, the 2-D causal mask that MiniGPT.decode
    passes and no mask; the reference's block gives the expected outputs on the same
    stand-in and weights. Also what its own sublayers give wired POST-norm, to name that
    slip."""
    block = lab.transformer.TransformerBlock(num_heads, width // num_heads, mlp_dim)
    block.attention = standins()[0]()
    x = rng.normal(size=(batch, length, width)).astype("float32")
    block(x)
    assign_random_weights(block, rng, scale=0.5)
    mask = np.tril(np.ones((length, length), dtype=bool))
    residual = x + np.asarray(block.attention(x, x, attention_mask=mask))
    h_post = np.asarray(block.norm1(residual))
    post_norm = block.norm2(h_post + np.asarray(block.mlp_output(block.mlp_hidden(h_post))))
    return {"out": block(x, attention_mask=mask), "unmasked": block(x),
            "post_norm": post_norm}


def judge_block(student, reference, what):
    out, tolerances = np.asarray(student["out"]), {"rtol": 1e-3, "atol": 1e-4}
    if np.shape(out) == np.shape(student["post_norm"]) and \
            np.allclose(out, student["post_norm"], **tolerances) and \
            not np.allclose(out, reference["out"], **tolerances):
        raise CheckFailed(f"{what} is the POST-norm block LN(x + sublayer(x)); this lab's block "
                          "is pre-norm: x + sublayer(LN(x)), the residual stream never normalised")
    if np.shape(out) == np.shape(student["unmasked"]) and \
            np.allclose(out, student["unmasked"], **tolerances) and \
            not np.allclose(reference["out"], reference["unmasked"], **tolerances):
        raise CheckFailed(f"{what}: the output is the same with a causal mask as without one: "
                          "pass attention_mask on to the attention sublayer")
    expect_close(out, reference["out"], f"{what} with a stand-in attention sublayer (a masked "
                 "mean, the same for the reference) and a causal mask", **tolerances)
    expect_close(student["unmasked"], reference["unmasked"],
                 f"{what} without a mask (attention_mask=None)", **tolerances)


def small_gpt(lab, rng, *, vocab_size=7, max_length=8, d_model=16, num_heads=2, num_layers=2,
              mlp_dim=32, scale=0.3):
    model = lab.transformer.MiniGPT(vocab_size, max_length, d_model=d_model,
                                    num_heads=num_heads, num_layers=num_layers, mlp_dim=mlp_dim)
    assign_random_weights(model, rng, scale)
    return model


def causality_probe(lab, rng, *, batch=2, length=8, d_model=16, **config):
    """Proves MiniGPT.decode causal on random hidden states: (1) the logits at t do not move
    when the inputs after t change; (2) the gradient of the logits at t with respect to the
    inputs after t is zero (and not zero up to t, so the model is not simply blind).

    Every t is tested in ONE batched call (examples do not interact): copy t of the batch
    has its inputs after t redrawn, or carries the gradient of position t only."""
    import tensorflow as tf
    model = small_gpt(lab, rng, max_length=length, d_model=d_model, **config)
    hidden = rng.normal(size=(batch, length, d_model)).astype("float32")
    copies = np.repeat(hidden[None], length, axis=0)               # (T, N, T, D): copy t
    for t in range(length):
        copies[t, :, t + 1:] = rng.normal(size=copies[t, :, t + 1:].shape)
    base = np.asarray(model.decode(hidden))
    changed = np.asarray(model.decode(copies.reshape(-1, length, d_model)))
    changed = changed.reshape(length, batch, length, -1)
    moved = np.array([np.abs(changed[t, :, :t + 1] - base[:, :t + 1]).max()
                      for t in range(length - 1)])
    # select[t, :, t] = 1: copy t back-propagates from its position t only
    select = np.zeros((length, batch, length, 1), dtype="float32")
    select[np.arange(length), :, np.arange(length)] = 1.0
    direction = rng.normal(size=(model.vocab_size,)).astype("float32")
    inputs = tf.constant(np.repeat(hidden[None], length, axis=0).reshape(-1, length, d_model))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        logits = tf.cast(model.decode(inputs), tf.float32)
        out = tf.reduce_sum(logits * select.reshape(-1, length, 1) * direction)
    grad = tape.gradient(out, inputs)
    if grad is None:
        sensitivity = np.zeros((length, length))
    else:   # [t, s] = |d logits_t / d hidden_s|
        sensitivity = np.abs(np.asarray(grad).reshape(length, batch, length, d_model)).sum(
            axis=(1, 3))
    return {"moved": moved, "sensitivity": sensitivity, "length": length}


def judge_causality(student, what):
    moved = np.asarray(student["moved"])
    if moved.max() > 1e-5:
        t = int(np.argmax(moved > 1e-5))
        raise CheckFailed(f"{what} is not causal: changing the inputs after position {t} moves "
                          f"the logits at positions <= {t} by up to {moved[t]:.3g} (is the causal "
                          "mask passed to every block, and does it allow s <= t only?)")
    sensitivity = np.asarray(student["sensitivity"])
    scale = sensitivity.max()
    expect_true(scale > 0, f"{what}: the logits do not depend on the inputs at all "
                "(zero gradient everywhere)")
    future = np.triu(sensitivity, 1) / scale
    if future.max() > 1e-6:
        t, s = (int(i) for i in np.argwhere(future > 1e-6)[0])
        raise CheckFailed(f"{what} is not causal: the gradient of the logits at position {t} "
                          f"with respect to the input at position {s} > {t} is not zero")
    past = np.tril(sensitivity) / scale
    blind = [(int(t), int(s)) for t, s in np.argwhere(np.tril(past <= 1e-9))]
    expect_true(not blind, f"{what}: the logits at position t must depend on every input up to "
                f"t, but d logits_t / d input_s is zero for (t, s) in {blind[:4]}: is the "
                "causal mask too strict?")


def patch_probe(lab, rng, *, batch, height, width, channels, patch_size, d_model):
    """The layer's output on random images and weights (the reference's gives the expected
    one), and its own convolution's grid flattened column by column, to name that slip."""
    import tensorflow as tf
    layer = lab.transformer.PatchEmbedding(patch_size, d_model)
    images = rng.random((batch, height, width, channels)).astype("float32")
    layer.build(images.shape)
    for weight in layer.trainable_weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    by_columns = tf.transpose(layer.projection(images), (0, 2, 1, 3))
    return {"out": layer(images), "by_columns": tf.reshape(by_columns, (batch, -1, d_model)),
            "config": f"PatchEmbedding(patch_size={patch_size}, d_model={d_model}) on images "
                      f"({batch}, {height}, {width}, {channels})"}


def judge_patches(student, reference):
    out, tolerances = np.asarray(student["out"]), {"rtol": 1e-3, "atol": 1e-4}
    if np.shape(out) == np.shape(student["by_columns"]) and \
            np.allclose(out, student["by_columns"], **tolerances) and \
            not np.allclose(out, reference["out"], **tolerances):
        raise CheckFailed(f"{student['config']}: the patches are in column order; flatten the "
                          "grid row by row, patch (i, j) at i * (W / p) + j")
    expect_close(out, reference["out"], f"{student['config']}, with the reference's weights",
                 **tolerances)
