"""Attention and training probes and verdicts of lab06b_attention (beam search:
probes_beam.py).

- additive_attention is compared with an independent numpy computation written here
  position by position (a softmax over the unmasked source positions only, scipy's), on
  check-defined weights; the verdict names the known slips (softmax over the wrong axis,
  a mask off by one, no tanh, the mask ignored, weights masked after the softmax, scores
  divided by sqrt(A), masked scores 0). On float16 inputs with large scores it must be as
  accurate as float32 arithmetic (float16 scores are visibly off).
- lengths_to_mask is called on an array and inside a tf.function; a failure there (numpy
  on a symbolic tensor) is reported as such, not as a traceback.
- The training check trains AttentionSeq2Seq with attention at one seed, on the check's own
  reversal data, with a stand-in lengths_to_mask that allows every position (the check's
  sources have no padding, so only additive_attention decides it). The same model without
  attention runs no student code at all (the stand-in replaces the mask): it would score
  the same for every submission, so the check does not train it (the handout states what it
  reaches).
Probes run in the worker, verdicts in the grader: numpy and scipy only at module level.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy.special import softmax

from autograder.api import CheckFailed
from autograder.check_helpers import standing_in
from autograder.verdicts import (
    as_array,
    expect_at_least,
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_true,
)

# ---- The mask and additive attention ---------------------------------------------------------


def mask_probe(lab, rng, lengths, max_length):
    import tensorflow as tf
    lengths = np.asarray(lengths, "int32")
    masks = lab.attention.lengths_to_mask(lengths, max_length)
    traced = tf.function(lambda t: lab.attention.lengths_to_mask(t, max_length),
                         input_signature=[tf.TensorSpec([None], tf.int32)])
    masks = as_bool(masks)
    try:
        in_graph, failure = traced(tf.constant(lengths)), None
    except Exception as error:          # numpy on a symbolic tensor, Python control flow...
        in_graph, failure = None, last_line(error)
    return {"lengths": lengths, "max_length": max_length, "mask": masks,
            "traced": None if failure else as_bool(in_graph), "traced_failure": failure}


def last_line(error):
    """The error's type and the last line of its message (TensorFlow's start with the
    traceback of the traced code, paths included)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    last = lines[-1][:200] if lines else ""
    name = type(error).__name__
    return last if last.startswith(name) else f"{name}: {last}"


def as_bool(value):
    array = np.asarray(value)
    if array.dtype != bool:
        raise TypeError(f"the mask has dtype {array.dtype}, expected bool")
    return array


def judge_mask(student, reference):
    lengths, size = [int(n) for n in student["lengths"]], student["max_length"]
    call = f"lengths_to_mask({lengths}, {size})"
    mask = np.asarray(student["mask"])
    expect_true(mask.shape == (len(lengths), size), f"{call} has shape {mask.shape}, expected "
                f"{(len(lengths), size)}")
    counted = mask.sum(axis=1).tolist()
    if counted == [min(n + 1, size) for n in lengths]:
        raise CheckFailed(f"{call} lets one position too many through (it counts {counted}): "
                          "positions 0 .. length - 1 are real, position `length` is padding "
                          "(position < length, not <=)")
    expect_equal(mask, reference["mask"], call)
    where = f"{call} inside a tf.function on a tensor of unknown length (as the model calls it " \
            "under fit)"
    if student.get("traced_failure"):
        raise CheckFailed(f"{where} fails ({student['traced_failure']}): lengths_to_mask must "
                          "work inside a tf.function, where lengths is a symbolic tensor: use "
                          "TensorFlow/Keras ops (ops.arange, a comparison), not numpy or int()")
    expect_equal(student["traced"], reference["mask"], where)


# Large scores: the units added by attention_inputs(large_scores=True) read the query only
# (their rows of w_keys are 0) and weigh OFFSET each in v, so every score of a decoder step
# is shifted by up to 2 * OFFSET, the same for every source position. The softmax is blind to
# such a shift, but float16 is not: at |e| ~ 256-512 it rounds the scores to 0.25, which
# moves the weights by several percent, while float32 arithmetic stays within float16's
# rounding of the results.
OFFSET = 200.0


def attention_inputs(rng, batch, queries, sources, query_dim, key_dim, units, lengths,
                     large_scores=False):
    """Random queries, keys and weights; the mask of `lengths` (row 0: a mask with holes)."""
    mask = np.zeros((batch, sources), bool)
    for row, length in enumerate(lengths):
        mask[row, :length] = True
    holes = rng.random(sources) < 0.5
    holes[rng.integers(sources)] = True
    mask[0] = holes
    inputs = {"query": rng.normal(size=(batch, queries, query_dim)),
              "keys": rng.normal(size=(batch, sources, key_dim)),
              "w_query": rng.normal(scale=0.7, size=(query_dim, units)),
              "w_keys": rng.normal(scale=0.7, size=(key_dim, units)),
              "v": rng.normal(size=units), "mask": mask}
    if large_scores:
        inputs["query"] = np.abs(inputs["query"]) + 0.5      # query @ w_query > 0 below
        inputs["w_query"] = np.concatenate(
            [inputs["w_query"], np.full((query_dim, 2), 2.0 / query_dim)], axis=1)
        inputs["w_keys"] = np.concatenate([inputs["w_keys"], np.zeros((key_dim, 2))], axis=1)
        inputs["v"] = np.concatenate([inputs["v"], [OFFSET, OFFSET]])
    return inputs


def attention_probe(lab, rng, batch, queries, sources, query_dim, key_dim, units, lengths,
                    dtype="float32", large_scores=False):
    import tensorflow as tf
    inputs = attention_inputs(rng, batch, queries, sources, query_dim, key_dim, units, lengths,
                              large_scores)
    args = {k: tf.constant(v if k == "mask" else v.astype(dtype)) for k, v in inputs.items()}
    context, weights = lab.attention.additive_attention(
        args["query"], args["keys"], args["mask"], args["w_query"], args["w_keys"], args["v"])
    unmasked = lab.attention.additive_attention(
        args["query"], args["keys"], None, args["w_query"], args["w_keys"], args["v"])
    return {**{k: v.astype(dtype) if k != "mask" else v for k, v in inputs.items()},
            "dtype": dtype, "large_scores": large_scores, "context": context, "weights": weights,
            "dtypes": [str(np.asarray(context).dtype), str(np.asarray(weights).dtype)],
            "unmasked_weights": unmasked[1]}


def numpy_attention(query, keys, mask, w_query, w_keys, v, *, slip=None):
    """Additive attention position by position, in float64; `slip` computes a known
    mistake instead."""
    query, keys = np.asarray(query, np.float64), np.asarray(keys, np.float64)
    batch, queries, sources = len(query), query.shape[1], keys.shape[1]
    mask = np.ones((batch, sources), bool) if mask is None else np.asarray(mask, bool)
    if slip == "mask off by one":   # one more position allowed after the last real one
        shifted = mask.copy()
        for row in range(batch):
            allowed = np.flatnonzero(mask[row])
            if len(allowed) and allowed[-1] + 1 < sources:
                shifted[row, allowed[-1] + 1] = True
        mask = shifted
    if slip == "mask ignored":
        mask = np.ones_like(mask)
    squash = (lambda a: a) if slip == "no tanh" else np.tanh
    scores = np.empty((batch, queries, sources))
    for n, t, s in itertools.product(range(batch), range(queries), range(sources)):
        scores[n, t, s] = squash(keys[n, s] @ w_keys + query[n, t] @ w_query) @ v
    if slip == "scaled":            # scaled dot-product attention's 1/sqrt(d) carried over
        scores /= np.sqrt(len(v))
    if slip == "masked score 0":    # padding scored 0 and left in the softmax
        scores = np.where(mask[:, None, :], scores, 0.0)
        mask = np.ones_like(mask)
    weights = np.zeros_like(scores)
    if slip == "wrong axis":        # a softmax over the queries (the decoder steps), the
        # masked scores made very negative first: a masked column's weights become 1/T
        weights = softmax(np.where(mask[:, None, :], scores, -1e9), axis=1)
    else:
        for n, t in itertools.product(range(batch), range(queries)):
            allowed = np.flatnonzero(mask[n])
            if slip == "masked after softmax":
                weights[n, t] = softmax(scores[n, t]) * mask[n]
            else:
                weights[n, t, allowed] = softmax(scores[n, t, allowed])
    return np.einsum("nts,nsd->ntd", weights, keys), weights


ATTENTION_SLIPS = {
    "wrong axis": "the softmax runs over the wrong axis (the decoder steps): it must run over "
                  "the source positions, the last axis of the scores (N, T, S)",
    "mask off by one": "the mask lets through one position after the real ones: it is off "
                       "by one",
    "no tanh": "the scores miss the tanh: e = v . tanh(keys W1 + query W2)",
    "mask ignored": "the mask is ignored: masked positions must get weight 0",
    "masked after softmax": "the weights were masked after the softmax, so they no longer sum "
                            "to 1: mask the scores before it",
    "scaled": "the scores were divided by sqrt(A): additive attention has no scaling (that is "
              "scaled dot-product attention's), e = v . tanh(keys W1 + query W2)",
    "masked score 0": "the masked positions got the score 0 instead of a very negative one, so "
                      "the padding keeps some weight: give them -1e9 (about -inf) before the "
                      "softmax"}


def judge_attention(student, reference):
    inputs = {k: np.asarray(student[k], np.float64)
              for k in ("query", "keys", "w_query", "w_keys", "v")}
    mask = np.asarray(student["mask"], bool)
    call = (f"additive_attention(query {inputs['query'].shape}, keys {inputs['keys'].shape}, "
            f"mask, ...) in {student['dtype']}")
    expected_context, expected_weights = numpy_attention(mask=mask, **inputs)
    expect_true(student["dtypes"] == [student["dtype"]] * 2, f"{call} returned context and "
                f"weights of dtypes {student['dtypes']}: return both in the keys' dtype")
    tolerance = {"float16": dict(rtol=2e-2, atol=5e-3)}.get(student["dtype"],
                                                              dict(rtol=1e-4, atol=1e-5))
    advice = ""
    if student.get("large_scores"):
        # float32 arithmetic, the results rounded to float16: within float16's rounding
        tolerance = dict(rtol=4e-3, atol=1e-3)
        scores = np.tanh((inputs["keys"] @ inputs["w_keys"])[:, None]
                         + (inputs["query"] @ inputs["w_query"])[:, :, None]) @ inputs["v"]
        call += f" with large scores (|e| up to {np.abs(scores).max():.0f})"
        advice = ("compute the scores and softmax in float32: cast query, keys, w_query, "
                  "w_keys and v to float32 first (float16 rounds scores this large to 0.25), "
                  "and cast the context and weights back to the keys' dtype at the end")
    mistakes = [(numpy_attention(mask=mask, slip=slip, **inputs)[1], message)
                for slip, message in ATTENTION_SLIPS.items()]
    weights = as_array(student["weights"], f"the weights of {call}").astype(np.float64)
    expect_close_naming(weights, expected_weights, f"the attention weights of {call}, "
                        "against an independent numpy computation", mistakes, advice=advice,
                        match_rtol=1e-3, match_atol=1e-4, **tolerance)
    expect_close_naming(np.asarray(student["context"], np.float64), expected_context,
                        f"the context vectors of {call} (the weights are right: context[n, t] "
                        "= sum over s of weights[n, t, s] * keys[n, s])", advice=advice,
                        **tolerance)
    expect_close(np.asarray(student["unmasked_weights"], np.float64),
                 numpy_attention(mask=None, **inputs)[1], f"the weights of {call} with "
                 "mask=None (every position attended)", **tolerance)
    expect_close(weights, reference["weights"], f"the weights of {call}, against the "
                 "reference's", **tolerance)


# ---- Training: attention against no attention -------------------------------------------------

def everything_allowed(lengths, max_length):
    """The stand-in for lengths_to_mask in the training check: NOT the mask of the lengths
    but True everywhere (the check's sources are never padded)."""
    from keras import ops
    return ops.logical_and(ops.arange(max_length)[None, :] >= 0, ops.cast(lengths, "int32")
                           [:, None] > -1)


def reversal(rng, n, length):
    sources = rng.integers(0, 10, size=(n, length)).astype("int32")
    return sources, np.ascontiguousarray(sources[:, ::-1])


def training_probe(lab, rng, budget):
    """Train AttentionSeq2Seq (with attention) on the reversal task; its held-out
    teacher-forced accuracy, and how much of the attention falls on the mirrored source
    position."""
    import keras
    attention = lab.attention
    length = budget["length"]
    keras.utils.set_random_seed(int(rng.integers(2 ** 31)))
    sources, targets = reversal(rng, budget["train_size"], length)
    test_sources, test_targets = reversal(rng, budget["test_size"], length)
    start = np.full((len(targets), 1), attention.START, "int32")
    inputs = np.concatenate([start, targets[:, :-1]], axis=1)
    test_inputs = np.concatenate([start[:len(test_targets)], test_targets[:, :-1]], axis=1)
    with standing_in(attention, lengths_to_mask=everything_allowed):
        model = attention.AttentionSeq2Seq(
            embed_dim=budget["embed_dim"], units=budget["units"],
            attention_units=budget["units"], use_attention=True)
        # Built (symbolically) and its optimizer too before fit: an optimizer built inside
        # the first traced step makes fit trace the step twice, and a trace costs more than
        # the whole training.
        model((keras.Input((length,), dtype="int32"), keras.Input((length,), dtype="int32")))
        model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      steps_per_execution=budget["train_size"] // budget["batch_size"])
        model.optimizer.build(model.trainable_variables)
        model.fit((sources, inputs), targets, batch_size=budget["batch_size"],
                  epochs=budget["epochs"], shuffle=False, verbose=0)
        keys, mask, state = model.encode(test_sources)
        logits, _, weights = model.decode(test_inputs, state, keys, mask)
    correct = np.asarray(logits).argmax(axis=-1) == test_targets
    steps = np.arange(length)
    return {"attention": float(correct.mean()),
            "attention_sequences": float(correct.all(axis=1).mean()),
            "mirror": float(np.asarray(weights, np.float64)[:, steps, length - 1 - steps].mean())}


def judge_training(student, reference, margin, mirror_margin):
    what = (f"the held-out token accuracy of the attention model trained on reversal "
            f"(whole sequences: {student['attention_sequences']:.0%}; the reference: "
            f"{reference['attention']:.1%} of tokens; attention that does not follow the "
            "decoder's state reads the source little better than the same model without "
            "attention, which reaches about two thirds of the digits)")
    expect_at_least(student["attention"], reference["attention"] - margin, what)
    expect_at_least(student["mirror"], reference["mirror"] - mirror_margin,
                    "the mean attention weight on the mirrored source position (reversal: "
                    f"step t reads position S-1-t; the reference: {reference['mirror']:.2f})")
