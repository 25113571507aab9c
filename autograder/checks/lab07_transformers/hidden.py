"""Hidden checks of lab07_transformers: fresh random shapes, head counts and widths;
references from the solution."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab07_transformers.probes import (
    block_against_its_sublayers,
    causality_probe,
    judge_block,
    judge_causality,
    judge_masked_attention,
    judge_mha_against_keras,
    judge_patches,
    mha_against_keras,
    patch_probe,
    random_mask,
)
from autograder.verdicts import expect_close


def _between(rng, low, high):
    return int(rng.integers(low, high + 1))


@check(points=1, hint="attention for any leading axes, lengths and widths; the mask may be "
                      "0/1 integers and broadcast over the batch")
def attention_other_shapes(lab, rng):
    batch, heads, t, s, depth, value_depth = (_between(rng, 1, 6) for _ in range(6))
    q = rng.normal(size=(batch, heads, t, depth)).astype("float32")
    k = rng.normal(size=(batch, heads, s, depth)).astype("float32")
    v = rng.normal(size=(batch, heads, s, value_depth)).astype("float32")
    mask = random_mask(rng, (1, 1, t, s))
    output, weights = lab.transformer.scaled_dot_product_attention(q, k, v, mask.astype("int32"))
    return {"output": output, "weights": weights, "mask": mask,
            "shape": f"q {q.shape}, k {k.shape}, v {v.shape}, mask {mask.shape} of 0/1"}


@attention_other_shapes.verdict
def _(student, reference):
    judge_masked_attention(student, reference,
                           f"scaled_dot_product_attention({reference['shape']})")


@check(points=2, reference=False,
       hint="any head count, head width and model width; key and value may be wider or "
            "narrower than the query")
def multi_head_attention_other_configurations(lab, rng):
    return mha_against_keras(lab, rng, batch=_between(rng, 1, 5),
                             query_length=_between(rng, 1, 7), value_length=_between(rng, 2, 9),
                             width=_between(rng, 3, 16), value_width=_between(rng, 3, 16),
                             num_heads=_between(rng, 1, 4), head_dim=_between(rng, 2, 6))


@multi_head_attention_other_configurations.verdict
def _(student, _reference):
    judge_mha_against_keras(student)


@check(points=1, hint="the encodings for any length and even depth")
def sinusoidal_other_sizes(lab, rng):
    length, depth = _between(rng, 3, 40), 2 * _between(rng, 1, 12)
    return {"pe": lab.transformer.sinusoidal_positional_encoding(length, depth),
            "size": f"({length}, {depth})"}


@sinusoidal_other_sizes.verdict
def _(student, reference):
    expect_close(student["pe"], reference["pe"],
                 f"sinusoidal_positional_encoding{reference['size']}", atol=1e-4)


@check(points=1, hint="the pre-norm block for any width, head count and MLP size")
def transformer_block_other_sizes(lab, rng):
    heads = _between(rng, 1, 3)
    return block_against_its_sublayers(lab, rng, batch=_between(rng, 1, 4),
                                       length=_between(rng, 2, 7), width=heads * _between(rng, 2, 5),
                                       num_heads=heads, mlp_dim=_between(rng, 4, 24))


@transformer_block_other_sizes.verdict
def _(student, reference):
    judge_block(student, reference, "TransformerBlock of another size")


@check(points=1, hint="the whole block against the reference, with the reference's weights")
def transformer_block_matches_reference(lab, rng):
    block = lab.transformer.TransformerBlock(2, 3, 10)
    x = rng.normal(size=(3, 5, 6)).astype("float32")
    block(x)
    assign_random_weights(block, rng)
    return {"out": block(x, attention_mask=np.tril(np.ones((5, 5), dtype=bool)))}


@transformer_block_matches_reference.verdict
def _(student, reference):
    expect_close(student["out"], reference["out"], "TransformerBlock(2, 3, 10) with the "
                 "reference's weights and a causal mask", rtol=1e-3, atol=1e-4)


@check(points=1, reference=False, hint="causal for any length, width and depth")
def gpt_is_causal_other_sizes(lab, rng):
    heads = _between(rng, 1, 3)
    return causality_probe(lab, rng, batch=_between(rng, 1, 3), length=_between(rng, 3, 10),
                           d_model=heads * _between(rng, 3, 6), num_heads=heads,
                           num_layers=_between(rng, 1, 3))


@gpt_is_causal_other_sizes.verdict
def _(student, _reference):
    judge_causality(student, "MiniGPT.decode of another size")


@check(points=1, hint="patches for any patch size, image size and channels")
def patch_embedding_other_sizes(lab, rng):
    p = _between(rng, 2, 4)
    return patch_probe(lab, rng, batch=_between(rng, 1, 3), height=p * _between(rng, 1, 4),
                       width=p * _between(rng, 1, 4), channels=_between(rng, 1, 3),
                       patch_size=p, d_model=_between(rng, 2, 7))


@patch_embedding_other_sizes.verdict
def _(student, reference):
    judge_patches(student, reference)
