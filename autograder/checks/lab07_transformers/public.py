"""Public checks of lab07_transformers, part 1: attention, its masks, the heads, multi-head
attention and the positional encodings, each function on its own.

The maths is compared with the reference on random inputs (and float16 inputs whose scores
overflow float16); multi-head attention with keras.layers.MultiHeadAttention itself (same
weights, copied), under the two mask shapes the lab uses. Part 2 (public_gpt.py) is the block
and the mini-GPT, part 3 (public_vit.py) the ViT and the .keras round trips.
"""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab07_transformers.probes import (
    judge_masked_attention,
    judge_mha_against_keras,
    mha_against_keras,
    random_mask,
)
from autograder.verdicts import expect_close, expect_equal, expect_finite, expect_shape, expect_true

# ---------------------------------------------------------------------------------------------
# 1. Attention and masks
# ---------------------------------------------------------------------------------------------


@check(points=2, task="`scaled_dot_product_attention`",
       hint="weights = softmax(q k^T / sqrt(d_k)) over the LAST axis (the keys); "
            "output = weights @ v")
def scaled_dot_product_attention(lab, rng):
    """Weights and output on random (2, 3, T, d) queries, keys and values, no mask."""
    q = rng.normal(size=(2, 3, 5, 4)).astype("float32")
    k = rng.normal(size=(2, 3, 7, 4)).astype("float32")
    v = rng.normal(size=(2, 3, 7, 6)).astype("float32")
    output, weights = lab.transformer.scaled_dot_product_attention(q, k, v)
    return {"output": output, "weights": weights}


@scaled_dot_product_attention.verdict
def _(student, reference):
    what = "scaled_dot_product_attention(q (2, 3, 5, 4), k (2, 3, 7, 4), v (2, 3, 7, 6))"
    weights = expect_shape(student["weights"], (2, 3, 5, 7), f"the weights of {what}")
    sums = weights.sum(axis=-1)
    expect_true(np.allclose(sums, 1.0, atol=1e-4), f"the weights of {what} must sum to 1 over "
                f"the keys (last axis); their sums range from {sums.min():.4g} to "
                f"{sums.max():.4g}: a softmax over the wrong axis?")
    expect_close(weights, reference["weights"], f"the weights of {what}")
    expect_close(student["output"], reference["output"], f"the output of {what}")


@check(points=2, task="`scaled_dot_product_attention` (mask)",
       hint="before the softmax, set the scores where mask is False to MASKED_SCORE "
            "(tf.where); masked keys then get weight exp(-1e9) = 0 and each row still sums to 1")
def attention_masks_get_zero_weight(lab, rng):
    """A random mask broadcast over the heads: masked weights exactly 0, each row summing to
    1, weights and output as the reference's."""
    q = rng.normal(size=(2, 3, 5, 4)).astype("float32")
    k = rng.normal(size=(2, 3, 6, 4)).astype("float32")
    v = rng.normal(size=(2, 3, 6, 2)).astype("float32")
    mask = random_mask(rng, (2, 1, 5, 6))   # broadcast over the 3 heads
    output, weights = lab.transformer.scaled_dot_product_attention(q, k, v, mask)
    return {"output": output, "weights": weights, "mask": mask}


@attention_masks_get_zero_weight.verdict
def _(student, reference):
    judge_masked_attention(student, reference, "scaled_dot_product_attention with a random "
                           "mask of shape (2, 1, 5, 6) (broadcast over the heads)")


@check(points=1, task="`scaled_dot_product_attention` (float32)",
       hint="cast q and k to float32 BEFORE q k^T (float16 overflows above 65504) and mask "
            "with MASKED_SCORE in float32 (in float16 it becomes -inf, and a fully masked row "
            "NaN); weights in float32, the output in value's dtype")
def attention_in_float32(lab, rng):
    """float16 inputs whose scores q . k overflow float16, with one query that may attend to
    nothing: float32 weights, finite, each row summing to 1, as the reference's; the output
    in value's dtype."""
    q = rng.normal(size=(2, 4, 8))
    k = rng.normal(size=(2, 6, 8))
    q[:, 0], k[:, 0] = 250.0 * np.sign(q[:, 0]), 250.0 * np.sign(q[:, 0])   # q . k = 500000
    v = rng.normal(size=(2, 6, 3))
    mask = random_mask(rng, (2, 4, 6))
    mask[:, 0, 0] = True                     # the overflowing score is not masked
    mask[:, 2] = False                       # query 2 may attend to no key at all
    output, weights = lab.transformer.scaled_dot_product_attention(
        *(np.asarray(a, dtype="float16") for a in (q, k, v)), mask)
    return {"output": output, "weights": weights, "mask": mask,
            "dtypes": json.dumps([str(np.asarray(weights).dtype), str(np.asarray(output).dtype)])}


@attention_in_float32.verdict
def _(student, reference):
    what = ("scaled_dot_product_attention on float16 q (2, 4, 8), k (2, 6, 8), v (2, 6, 3) "
            "with scores up to 5e5 and a mask whose row 2 allows no key")
    weights_dtype, output_dtype = json.loads(student["dtypes"])
    expect_true(weights_dtype == "float32", f"{what} returned {weights_dtype} weights: the "
                "scores and the softmax must be computed in float32 whatever the inputs' dtype")
    weights = expect_finite(student["weights"], f"the weights of {what}")
    expect_close(weights[:, 2], reference["weights"][:, 2], "the weights of the fully masked "
                 "query 2 of " + what + " (every score MASKED_SCORE: a uniform row)")
    expect_close(weights, reference["weights"], f"the weights of {what}", rtol=1e-3, atol=1e-5)
    expect_true(output_dtype == "float16", f"the output of {what} is {output_dtype}; it must "
                "be in value's dtype, float16 (cast the weights to value.dtype before @ v)")
    expect_close(student["output"], reference["output"], f"the output of {what}", rtol=1e-2,
                 atol=1e-2)


@check(points=1, task="`causal_mask`", hint="mask[t, s] = s <= t: True on and below the diagonal")
def causal_mask(lab, rng):
    """The (6, 6) causal mask: the diagonal allowed, nothing above it."""
    return {"mask": np.asarray(lab.transformer.causal_mask(6)).astype("int32")}


@causal_mask.verdict
def _(student, reference):
    mask = expect_shape(student["mask"], (6, 6), "causal_mask(6)")
    diagonal = np.diag(mask)
    expect_true(diagonal.all(), "causal_mask(6): position t must be allowed to attend to "
                f"itself (the diagonal is {diagonal.tolist()})")
    above = np.argwhere(np.triu(mask, 1))
    if len(above):
        raise CheckFailed(f"causal_mask(6) lets position t attend to a later position (first: "
                          f"t={int(above[0][0])} sees s={int(above[0][1])}): only s <= t is "
                          "allowed")
    expect_equal(mask, reference["mask"], "causal_mask(6)")


@check(points=1, task="`padding_mask`",
       hint="tokens != pad_id, shape (N, 1, S): the 1 broadcasts over the queries")
def padding_mask(lab, rng):
    """(N, 1, S) for rows padded after 7, 4 and 1 tokens, and with another pad id."""
    tokens = rng.integers(1, 9, size=(3, 7)).astype("int32")
    for row, length in enumerate((7, 4, 1)):
        tokens[row, length:] = 0
    return {"mask": np.asarray(lab.transformer.padding_mask(tokens)).astype("int32"),
            "other_pad": np.asarray(lab.transformer.padding_mask(tokens, pad_id=3)).astype("int32")}


@padding_mask.verdict
def _(student, reference):
    expect_shape(student["mask"], (3, 1, 7), "padding_mask(tokens (3, 7))")
    expect_equal(student["mask"], reference["mask"],
                 "padding_mask(tokens) (rows padded with 0 after 7, 4 and 1 tokens)")
    expect_equal(student["other_pad"], reference["other_pad"], "padding_mask(tokens, pad_id=3)")


# ---------------------------------------------------------------------------------------------
# 2. Multi-head attention
# ---------------------------------------------------------------------------------------------


@check(points=1, task="`split_heads`, `merge_heads`",
       hint="split_heads: reshape to (N, T, H, Dh) THEN transpose to (N, H, T, Dh) "
            "(a reshape alone mixes positions into heads); merge_heads undoes it")
def split_and_merge_heads(lab, rng):
    """split_heads and merge_heads (of other random heads) against the reference; merge_heads
    must undo split_heads exactly."""
    x = rng.normal(size=(2, 5, 12)).astype("float32")
    heads = lab.transformer.split_heads(x, 3)
    return {"heads": heads, "x": x, "round_trip": lab.transformer.merge_heads(heads),
            "merged": lab.transformer.merge_heads(rng.normal(size=(2, 3, 5, 4)).astype("float32"))}


@split_and_merge_heads.verdict
def _(student, reference):
    expect_close(student["heads"], reference["heads"], "split_heads(x (2, 5, 12), num_heads=3)")
    expect_close(student["merged"], reference["merged"], "merge_heads(heads (2, 3, 5, 4))")
    expect_close(student["round_trip"], student["x"],
                 "merge_heads(split_heads(x, 3)), which must give x back", against="x")


@check(points=3, task="`MultiHeadAttention.call`", reference=False,
       hint="project query with query_dense, key with key_dense, value with value_dense; "
            "split_heads; attention per head; merge_heads; output_dense")
def multi_head_attention_matches_keras(lab, rng):
    """Against `keras.layers.MultiHeadAttention` with the same (copied) weights and separate
    key and value inputs: outputs without a mask, outputs and attention weights with a random
    (N, T, S) mask and with a random (T, S) mask."""
    return mha_against_keras(lab, rng, batch=2, query_length=5, value_length=7, width=12,
                             value_width=12, num_heads=3, head_dim=4)


@multi_head_attention_matches_keras.verdict
def _(student, _reference):
    judge_mha_against_keras(student)


# ---------------------------------------------------------------------------------------------
# 3. Positions
# ---------------------------------------------------------------------------------------------


@check(points=1, task="`sinusoidal_positional_encoding`",
       hint="angle[t, i] = t / 10000^(2i / D); PE[:, 0::2] = sin, PE[:, 1::2] = cos "
            "(interleaved, not [sin | cos])")
def sinusoidal_positional_encoding(lab, rng):
    """The values for 10 positions of depth 8."""
    return {"pe": lab.transformer.sinusoidal_positional_encoding(10, 8)}


@sinusoidal_positional_encoding.verdict
def _(student, reference):
    expect_close(student["pe"], reference["pe"], "sinusoidal_positional_encoding(10, 8)",
                 atol=1e-4)


@check(points=1, reference=False, task="`sinusoidal_positional_encoding`",
       hint="each (sin, cos) pair at columns (2i, 2i + 1) shares one frequency, so PE[0] = "
            "[0, 1, 0, 1, ...] and PE[t] . PE[t + k] depends on k only")
def sinusoidal_encoding_properties(lab, rng):
    """PE[0] = [0, 1, 0, 1, ...], sin² + cos² = 1 per pair, PE[t] · PE[t + k] independent
    of t."""
    return {"pe": lab.transformer.sinusoidal_positional_encoding(50, 16)}


@sinusoidal_encoding_properties.verdict
def _(student, _reference):
    pe = expect_shape(student["pe"], (50, 16), "sinusoidal_positional_encoding(50, 16)")
    pe = pe.astype(np.float64)
    expect_true(np.abs(pe).max() <= 1 + 1e-5, "positional encodings are sines and cosines: "
                f"found a value of {np.abs(pe).max():.4g}")
    expected_first = np.tile([0.0, 1.0], 8)
    expect_true(np.allclose(pe[0], expected_first, atol=1e-5),
                f"PE[0] must be [0, 1, 0, 1, ...] (sin 0, cos 0 interleaved), got "
                f"{np.round(pe[0], 3).tolist()}")
    pair_norms = pe[:, 0::2] ** 2 + pe[:, 1::2] ** 2
    expect_true(np.allclose(pair_norms, 1.0, atol=1e-4),
                "columns 2i and 2i + 1 must be the sine and cosine of the SAME angle "
                "(sin^2 + cos^2 = 1), but they are not: are the sines and cosines interleaved?")
    gram = pe @ pe.T
    for k in (1, 3, 7):
        along = np.diagonal(gram, offset=k)
        expect_true(np.ptp(along) < 1e-3, f"PE[t] . PE[t + {k}] must be the same for every t "
                    f"(it depends on the offset only); it ranges over {np.ptp(along):.3g}")


@check(points=1, task="`LearnedPositionalEmbedding` (`build`, `call`)",
       hint="build: one weight of shape (max_length, input_shape[-1]); call: x + "
            "position_embeddings[:T] with T = tf.shape(x)[1]")
def learned_positional_embedding(lab, rng):
    """One (max_length, D) weight; with random values in it, the outputs for T = 7 and
    T = max_length against the reference's; the same after a `.keras` round trip."""
    import keras
    layer = lab.transformer.LearnedPositionalEmbedding(10)
    x = rng.normal(size=(2, 7, 6)).astype("float32")
    layer.build(x.shape)
    assign_random_weights(layer, rng, scale=1.0)
    short = layer(x)
    weights = [np.asarray(w.numpy()) for w in layer.trainable_weights]
    longest = rng.normal(size=(1, 10, 6)).astype("float32")
    model = keras.Sequential([keras.Input((None, 6)), layer])
    path = str(lab.tmpdir / "positions.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    return {"short": short, "weights": json.dumps([list(w.shape) for w in weights]),
            "longest_out": layer(longest), "reloaded": loaded(longest)}


@learned_positional_embedding.verdict
def _(student, reference):
    shapes = json.loads(student["weights"])
    expect_true(shapes == [[10, 6]], "LearnedPositionalEmbedding(max_length=10) on inputs of "
                f"width 6 must own one trainable weight of shape (10, 6); it owns {shapes}")
    expect_close(student["short"], reference["short"], "LearnedPositionalEmbedding(10)(x (2, 7, "
                 "6)), random values in its weight")
    expect_close(student["longest_out"], reference["longest_out"],
                 "LearnedPositionalEmbedding(10) on a sequence of the full length 10")
    expect_close(student["reloaded"], student["longest_out"],
                 "LearnedPositionalEmbedding after a .keras save and load")
