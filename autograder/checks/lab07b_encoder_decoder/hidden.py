"""Hidden checks of lab07b_encoder_decoder: the same units on fresh sizes, rates and seeds;
the whole blocks against the reference's with the same weights (references from the
solution, run live)."""
from autograder.api import check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab07b_encoder_decoder.probes import (
    judge_mha_against_keras,
    mha_against_keras,
    padded_tokens,
)
from autograder.checks.lab07b_encoder_decoder.public_bert import (
    judge_loss,
    judge_masking,
    judge_pooling,
    loss_probe,
    masking_probe,
    pooling_probe,
)
from autograder.checks.lab07b_encoder_decoder.public_cache import (
    block_steps,
    judge_block_steps,
    judge_model_steps,
    model_steps,
)
from autograder.verdicts import expect_close


def _between(rng, low, high):
    return int(rng.integers(low, high + 1))


@check(points=2, reference=False, hint="any head count, head width, model width and lengths")
def cross_attention_other_sizes(lab, rng):
    return mha_against_keras(lab, rng, batch=_between(rng, 1, 4),
                             query_length=_between(rng, 1, 6),
                             context_length=_between(rng, 2, 8), width=_between(rng, 3, 12),
                             num_heads=_between(rng, 1, 4), head_dim=_between(rng, 2, 5))


@cross_attention_other_sizes.verdict
def _(student, _reference):
    judge_mha_against_keras(student)


@check(points=2, hint="the whole encoder and decoder blocks, with the reference's weights")
def blocks_match_reference(lab, rng):
    ed = lab.encoder_decoder
    heads, head_dim = _between(rng, 1, 3), _between(rng, 2, 4)
    width, length, source = heads * head_dim, _between(rng, 2, 6), _between(rng, 2, 6)
    x = rng.normal(size=(2, length, width)).astype("float32")
    memory = rng.normal(size=(2, source, width)).astype("float32")
    mask = (padded_tokens(rng, 2, source) != 0)[:, None, :]
    encoder_block, decoder_block = ed.EncoderBlock(heads, head_dim, 12), ed.DecoderBlock(
        heads, head_dim, 12)
    encoder_block(memory)
    decoder_block(x, memory)
    assign_random_weights(encoder_block, rng, scale=0.4)
    assign_random_weights(decoder_block, rng, scale=0.4)
    return {"encoder": encoder_block(memory, padding_mask=mask),
            "decoder": decoder_block(x, memory, source_mask=mask)}


@blocks_match_reference.verdict
def _(student, reference):
    expect_close(student["encoder"], reference["encoder"], "EncoderBlock with the reference's "
                 "weights, under a padding mask", rtol=1e-3, atol=1e-4)
    expect_close(student["decoder"], reference["decoder"], "DecoderBlock with the reference's "
                 "weights, under a source padding mask", rtol=1e-3, atol=1e-4)


@check(points=1, reference=False, hint="the cache for any head count, width and length")
def cache_other_sizes(lab, rng):
    heads = _between(rng, 1, 3)
    return block_steps(lab, rng, batch=_between(rng, 1, 3), length=_between(rng, 3, 8),
                       source_length=_between(rng, 2, 6), num_heads=heads,
                       head_dim=_between(rng, 2, 4), mlp_dim=_between(rng, 4, 16))


@cache_other_sizes.verdict
def _(student, _reference):
    judge_block_steps(student)


@check(points=1, reference=False, hint="decode_step with one decoder block and with three")
def decode_step_other_depths(lab, rng):
    return {**{f"one_{k}": v for k, v in model_steps(lab, rng, num_layers=1).items()},
            **{f"three_{k}": v for k, v in model_steps(lab, rng, length=5,
                                                       num_layers=3).items()}}


@decode_step_other_depths.verdict
def _(student, _reference):
    for depth in ("one", "three"):
        judge_model_steps({k[len(depth) + 1:]: v for k, v in student.items()
                           if k.startswith(depth + "_")})


@check(points=1, reference=False, hint="mask_tokens for any rate, from the rng given")
def masking_other_rate(lab, rng):
    return masking_probe(lab, rng, batch=150, length=80, rate=0.3)


@masking_other_rate.verdict
def _(student, _reference):
    judge_masking(student)


@check(points=1, reference=False, hint="the masked-LM loss for any shape and vocabulary")
def masked_lm_loss_other_shapes(lab, rng):
    return loss_probe(lab, rng, batch=_between(rng, 2, 5), length=_between(rng, 2, 9),
                      vocab=_between(rng, 3, 40))


@masked_lm_loss_other_shapes.verdict
def _(student, _reference):
    judge_loss(student)


@check(points=1, reference=False, hint="the mean over the real positions for any length")
def pooling_other_sizes(lab, rng):
    return pooling_probe(lab, rng, batch=_between(rng, 2, 5), length=_between(rng, 2, 8))


@pooling_other_sizes.verdict
def _(student, _reference):
    judge_pooling(student)

