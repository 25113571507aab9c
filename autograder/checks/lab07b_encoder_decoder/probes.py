"""Helpers the checks of lab07b_encoder_decoder share (public and hidden): the check's own
number language, multi-head attention against keras.layers.MultiHeadAttention, stand-in
sublayers of known behaviour (NOT attention), the perturbation proofs and the attention
counter. Probes import TensorFlow/Keras inside their functions; verdicts run in the grader:
this module imports numpy only at its top level.
"""
import functools
import re

import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import assign_random_weights
from autograder.verdicts import expect_close, expect_close_naming, expect_true

# ---------------------------------------------------------------------------------------------
# The check's own copy of the language (the handout's ids): words -> digits
# ---------------------------------------------------------------------------------------------

SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
DECADES = "twenty thirty forty fifty sixty seventy eighty ninety".split()
VOCABULARY = SMALL + DECADES + ["hundred", "thousand"]
PAD, MASK, FIRST_WORD, BOS, EOS, FIRST_DIGIT, IGNORE = 0, 1, 2, 1, 2, 3, -1
SOURCE_VOCAB, TARGET_VOCAB = FIRST_WORD + len(VOCABULARY), FIRST_DIGIT + 10


def spell(number):
    """The words of 0 <= number < 1000 (no "and"), read digit group by digit group."""
    hundreds, rest = divmod(int(number), 100)
    words = [SMALL[hundreds], "hundred"] if hundreds else []
    if rest >= 20:
        words += [DECADES[rest // 10 - 2]] + ([SMALL[rest % 10]] if rest % 10 else [])
    elif rest or not hundreds:
        words.append(SMALL[rest])
    return words


def spell_large(number):
    thousands, rest = divmod(int(number), 1000)
    if not thousands:
        return spell(rest)
    return spell(thousands) + ["thousand"] + (spell(rest) if rest else [])


def number_pairs(numbers, source_length, target_length):
    """(sources, targets) of the handout's ids, padded with PAD."""
    sources = np.zeros((len(numbers), source_length), "int32")
    targets = np.zeros((len(numbers), target_length), "int32")
    for row, number in enumerate(numbers):
        ids = [FIRST_WORD + VOCABULARY.index(w) for w in spell_large(number)]
        digits = [FIRST_DIGIT + int(c) for c in str(int(number))] + [EOS]
        sources[row, :len(ids)], targets[row, :len(digits)] = ids, digits
    return sources, targets


def shifted(targets):
    return np.concatenate([np.full((len(targets), 1), BOS, "int32"), targets[:, :-1]], 1)


def corrupted_sentences(rng, count):
    """(sentences (count, 4), labels): half numbers' words (1), half with one word replaced
    so that they are no number's words (0)."""
    valid = {tuple(spell(n)) for n in range(1000)}
    sentences, _ = number_pairs(rng.integers(0, 1000, size=count), 4, 4)
    labels = (np.arange(count) % 2).astype("int32")
    rng.shuffle(labels)
    for row in np.flatnonzero(labels == 0):
        real = int(np.count_nonzero(sentences[row]))
        while True:
            trial = sentences[row].copy()
            trial[rng.integers(real)] = rng.integers(FIRST_WORD, SOURCE_VOCAB)
            if tuple(VOCABULARY[i - FIRST_WORD] for i in trial[:real]) not in valid:
                sentences[row] = trial
                break
    return sentences, labels


def padded_tokens(rng, batch, length, low=FIRST_WORD, high=SOURCE_VOCAB, min_length=1):
    """Random ids with PAD after a random length per row (the first row full length)."""
    tokens = rng.integers(low, high, size=(batch, length)).astype("int32")
    lengths = rng.integers(min_length, length + 1, size=batch)
    lengths[0] = length
    tokens[np.arange(length)[None, :] >= lengths[:, None]] = PAD
    return tokens


def error_text(error):
    """An exception raised by the student's code, as a short message for a verdict."""
    text = re.sub(r"\x1b\[[0-9;]*m|\{\{[^}]*\}\}", "", str(error))
    text = re.sub(r"Exception encountered when calling [\w.]+\(\)\.", "", text)
    text = " ".join(text.split("Arguments received")[0].split())
    return f"{type(error).__name__}: {text}"[:300]


# ---------------------------------------------------------------------------------------------
# Multi-head attention against keras.layers.MultiHeadAttention
# ---------------------------------------------------------------------------------------------

def mha_against_keras(lab, rng, *, batch, query_length, context_length, width, num_heads,
                      head_dim):
    """The student's MultiHeadAttention and Keras's with the same weights (Keras's layout is
    the lab's: copied as they are): cross-attention under a source padding mask (N, 1, S),
    unmasked, and self-attention under a causal mask (T, T). Keras with the key and value
    kernels swapped names that slip."""
    import keras
    query = rng.normal(size=(batch, query_length, width)).astype("float32")
    context = rng.normal(size=(batch, context_length, width)).astype("float32")
    lengths = rng.integers(1, context_length + 1, size=batch)
    lengths[0] = context_length
    source_mask = (np.arange(context_length)[None, :] < lengths[:, None])[:, None, :]
    causal = np.tril(np.ones((query_length, query_length), bool))
    reference = keras.layers.MultiHeadAttention(num_heads, head_dim)
    reference(query, context)
    for weight in reference.trainable_weights:   # biases too: Keras starts them at 0
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    student = lab.encoder_decoder.MultiHeadAttention(num_heads, head_dim)
    student.build(query.shape, context.shape)
    denses = {"query": reference._query_dense, "key": reference._key_dense,
              "value": reference._value_dense, "output": reference._output_dense}
    for name, dense in denses.items():
        getattr(student, f"{name}_kernel").assign(dense.kernel.numpy())
        getattr(student, f"{name}_bias").assign(dense.bias.numpy())
    out = {"config": f"MultiHeadAttention(num_heads={num_heads}, head_dim={head_dim}) on "
                     f"queries ({batch}, {query_length}, {width}) over a context "
                     f"({batch}, {context_length}, {width})",
           "lengths": lengths,
           "shapes": f"queries (N, H, T, Dh) = ({batch}, {num_heads}, {query_length}, "
                     f"{head_dim}), keys and values (N, H, S, Dh) = ({batch}, {num_heads}, "
                     f"{context_length}, {head_dim}), weights (N, H, T, S), heads (N, H, T, "
                     f"Dh) merged with output_kernel (H, Dh, C) into (N, T, C) = ({batch}, "
                     f"{query_length}, {width})"}
    out["keras_cross"], out["keras_cross_weights"] = reference(
        query, context, attention_mask=np.broadcast_to(
            source_mask, (batch, query_length, context_length)), return_attention_scores=True)
    out["keras_unmasked"] = reference(query, context)
    for name in ("query", "value", "output"):     # the slips: one bias left out
        bias = denses[name].bias
        kept = bias.numpy()
        bias.assign(np.zeros_like(kept))
        out[f"keras_no_{name}_bias"] = reference(query, context)
        bias.assign(kept)
    out["keras_self"] = reference(query, query, attention_mask=np.broadcast_to(
        causal, (batch, query_length, query_length)))
    saved = [(w, w.numpy()) for d in (denses["key"], denses["value"]) for w in (d.kernel, d.bias)]
    for (weight, _), (_, value) in zip(saved, saved[2:] + saved[:2]):
        weight.assign(value)                  # the key and value weights swapped
    out["keras_swapped"] = reference(query, context)
    for name, call in (
            ("cross", lambda: student(query, context, attention_mask=source_mask,
                                      return_weights=True)),
            ("unmasked", lambda: (student(query, context), np.zeros(0))),
            ("self", lambda: (student(query, query, attention_mask=causal), np.zeros(0)))):
        try:
            out[name], out[f"{name}_weights"] = call()
            out[f"{name}_error"] = ""
        except Exception as error:  # the message goes to the student
            out[f"{name}_error"] = error_text(error)
    return out


def judge_mha_against_keras(student):
    config, tolerances = student["config"], {"rtol": 1e-3, "atol": 1e-4}
    for name in ("unmasked", "cross", "self"):
        if student[f"{name}_error"]:
            hint = (f": the shapes expected are {student.get('shapes', '')}"
                    if name == "unmasked" else ": give the mask a head axis at -3, so that "
                    "(N, 1, S) becomes (N, 1, 1, S) and (T, T) broadcasts as (1, T, T)")
            raise CheckFailed(f"{config}, {'no mask' if name == 'unmasked' else name + '-attention'}"
                              f" failed{hint}. The error: {student[f'{name}_error']}")
    unmasked = np.asarray(student["unmasked"])
    if unmasked.shape == np.shape(student["keras_swapped"]) and \
            np.allclose(unmasked, student["keras_swapped"], **tolerances) and \
            not np.allclose(unmasked, student["keras_unmasked"], **tolerances):
        raise CheckFailed(f"{config}: the keys come from value_kernel and the values from "
                          "key_kernel: keys = context @ key_kernel, values = context @ "
                          "value_kernel")
    slips = [(student[f"keras_no_{name}_bias"], f"it equals Keras's with {name}_bias set to "
              f"0: add {name}_bias" + (" after merging the heads" if name == "output" else
                                       " to the projected " + name + "s"))
             for name in ("query", "value", "output") if f"keras_no_{name}_bias" in student]
    expect_close_naming(unmasked, student["keras_unmasked"], f"{config}, no mask, against "
                        "keras.layers.MultiHeadAttention with the same weights", slips,
                        advice="the likely slips: a bias left out, or the heads (N, H, T, Dh) "
                        "merged by a reshape without moving H next to Dh (einsum('nhtd,hdc->"
                        "ntc', heads, output_kernel) merges them)", **tolerances)
    what = (f"{config}, cross-attention under the source padding mask (N, 1, S) (source "
            f"lengths {np.asarray(student['lengths']).tolist()})")
    weights = np.asarray(student["cross_weights"])
    expected = np.asarray(student["keras_cross_weights"])
    if weights.shape == expected.shape:
        padded = expected < 1e-12
        leaked = float(np.abs(weights[padded]).max()) if padded.any() else 0.0
        expect_true(leaked < 1e-6, f"{what}: padded source positions get weight up to "
                    f"{leaked:.3g}; they must get exactly 0 (give the mask a head axis)")
    expect_close(weights, expected, f"the weights (N, H, T, S) of {what}, against Keras's",
                 rtol=1e-3, atol=1e-5)
    expect_close(student["cross"], student["keras_cross"], f"{what}, against Keras's",
                 **tolerances)
    expect_close(student["self"], student["keras_self"], f"{config}, self-attention "
                 "(context = query) under a causal mask (T, T), against Keras's", **tolerances)


# ---------------------------------------------------------------------------------------------
# Stand-ins: sublayers of known behaviour that are NOT attention
# ---------------------------------------------------------------------------------------------

def masked_mean(tf, values, mask, queries):
    """The mean of values (N, S, F) over the positions each of the `queries` may see: mask
    None (all), or booleans broadcasting to (N, T, S). Every allowed position weighs the
    same, whatever the query: not attention."""
    batch, length = tf.shape(values)[0], tf.shape(values)[1]
    if mask is None:
        mask = tf.ones((queries, length), tf.bool)
    allowed = tf.cast(tf.broadcast_to(tf.cast(mask, tf.bool), (batch, queries, length)),
                      values.dtype)
    return tf.matmul(allowed, values) / tf.maximum(tf.reduce_sum(allowed, -1, keepdims=True), 1.0)


@functools.cache
def standins():
    """(StandInAttention, StandInEncoderBlock, StandInDecoderBlock), made on first use.

    StandInAttention, with MultiHeadAttention's call signature:
        tanh(query Wq) + masked_mean(context Wc)
    StandInEncoderBlock(x, padding_mask):        x + tanh(masked_mean(x) W)
    StandInDecoderBlock(x, memory, source_mask): x + tanh(causal_mean(x) W) + mean(memory)
    """
    import keras
    import tensorflow as tf

    class StandInAttention(keras.layers.Layer):
        def build(self, query_shape, context_shape=None):
            context_shape = query_shape if context_shape is None else context_shape
            self.wq = self.add_weight(shape=(query_shape[-1], query_shape[-1]), name="wq")
            self.wc = self.add_weight(shape=(context_shape[-1], query_shape[-1]), name="wc")

        def call(self, query, context, attention_mask=None, return_weights=False):
            return tf.tanh(query @ self.wq) + masked_mean(tf, context @ self.wc,
                                                          attention_mask, tf.shape(query)[1])

    class StandInEncoderBlock(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], input_shape[-1]), name="w")

        def call(self, x, padding_mask=None):
            return x + tf.tanh(masked_mean(tf, x, padding_mask, tf.shape(x)[1]) @ self.w)

    class StandInDecoderBlock(keras.layers.Layer):
        def build(self, x_shape, memory_shape=None):
            self.w = self.add_weight(shape=(x_shape[-1], x_shape[-1]), name="w")

        def call(self, x, memory, source_mask=None):
            length = tf.shape(x)[1]
            causal = tf.linalg.band_part(tf.ones((length, length)), -1, 0) > 0
            return x + tf.tanh(masked_mean(tf, x, causal, length) @ self.w) + masked_mean(
                tf, memory, source_mask, length)

    return StandInAttention, StandInEncoderBlock, StandInDecoderBlock


def standin_layers(rng, kind, count, *shapes):
    """`count` built stand-ins of kind 0 (attention), 1 (encoder block) or 2 (decoder
    block), with random weights."""
    layers = [standins()[kind]() for _ in range(count)]
    for layer in layers:
        layer.build(*shapes)
        assign_random_weights(layer, rng, scale=0.5)
    return layers


def small_transformer(lab, rng, *, source_length=5, target_length=7, d_model=16,
                      num_heads=2, num_layers=2, mlp_dim=24, scale=0.3):
    model = lab.encoder_decoder.Transformer(source_length, target_length, d_model=d_model,
                                            num_heads=num_heads, num_layers=num_layers,
                                            mlp_dim=mlp_dim)
    assign_random_weights(model, rng, scale)
    return model


# ---------------------------------------------------------------------------------------------
# Counting the attention work
# ---------------------------------------------------------------------------------------------

def counting_attention(calls):
    """Scaled dot-product attention from keras.ops (the given function's maths) that records
    the (query length, key length) of every call in `calls`."""
    import keras
    ops = keras.ops

    def attention(query, key, value, mask=None):
        calls.append((int(query.shape[-2]), int(key.shape[-2]),
                      int(np.prod(query.shape[:-2])) * int(query.shape[-1])))
        scores = ops.matmul(ops.cast(query, "float32"),
                            ops.swapaxes(ops.cast(key, "float32"), -1, -2))
        scores = scores / np.sqrt(float(query.shape[-1]))
        if mask is not None:
            scores = ops.where(ops.cast(mask, "bool"), scores, -1e9)
        shares = ops.softmax(scores, axis=-1)
        return ops.matmul(ops.cast(shares, value.dtype), value), shares
    return attention
