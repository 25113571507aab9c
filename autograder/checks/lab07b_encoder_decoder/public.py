"""Public checks of lab07b_encoder_decoder, part 1: multi-head attention against Keras's, the
post-norm blocks on stand-in attention sublayers, the encoder and the decoder (with stand-in
blocks, and by perturbation: padding and causality), greedy decoding on a rule decoder.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab07b_encoder_decoder.probes import (
    EOS,
    FIRST_DIGIT,
    FIRST_WORD,
    PAD,
    SOURCE_VOCAB,
    TARGET_VOCAB,
    judge_mha_against_keras,
    mha_against_keras,
    padded_tokens,
    small_transformer,
    standins,
)
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_shape,
    expect_true,
)

TOLERANCES = {"rtol": 1e-3, "atol": 1e-4}

# ---------------------------------------------------------------------------------------------
# 1. Multi-head attention
# ---------------------------------------------------------------------------------------------


@check(points=3, reference=False, task="`MultiHeadAttention.project_keys_values`, `.attend`",
       hint="keys/values: einsum('nsc,chd->nhsd', context, kernel) + bias[None, :, None]; "
            "queries likewise from `query`; the mask gets a head axis at -3; attention(q, k, "
            "v, mask); einsum('nhtd,hdc->ntc', heads, output_kernel) + output_bias")
def cross_attention_matches_keras(lab, rng):
    """Against `keras.layers.MultiHeadAttention` holding the same weights: 3 sequences of 4
    decoder positions over 6 source positions (lengths 6 and shorter), with the source
    padding mask (N, 1, S) (weights and outputs) and without a mask; self-attention under a
    causal mask (T, T)."""
    return mha_against_keras(lab, rng, batch=3, query_length=4, context_length=6, width=8,
                             num_heads=2, head_dim=3)


@cross_attention_matches_keras.verdict
def _(student, _reference):
    judge_mha_against_keras(student)


# ---------------------------------------------------------------------------------------------
# 2. The post-norm blocks, on stand-in attention sublayers
# ---------------------------------------------------------------------------------------------


def lengths_mask(rng, batch, length):
    lengths = rng.integers(1, length + 1, size=batch)
    lengths[0] = length
    return (np.arange(length)[None, :] < lengths[:, None])[:, None, :]


@check(points=2, task="`EncoderBlock.call`",
       hint="post-norm: h = norm1(x + attention(x, x, attention_mask=padding_mask)); "
            "out = norm2(h + mlp_output(mlp_hidden(h)))")
def encoder_block_is_post_norm(lab, rng):
    """With a stand-in attention sublayer (a masked mean, not attention) and random weights,
    against the reference's block on the same: under a padding mask (N, 1, S) and without
    one."""
    attention_class = standins()[0]
    block = lab.encoder_decoder.EncoderBlock(2, 4, 16)
    block.attention = attention_class()
    x = rng.normal(size=(3, 5, 8)).astype("float32")
    mask = lengths_mask(rng, 3, 5)
    block(x)
    assign_random_weights(block, rng, scale=0.5)
    normed = np.asarray(block.norm1(x))
    pre = x + np.asarray(block.attention(normed, normed, attention_mask=mask))
    pre_norm = pre + np.asarray(block.mlp_output(block.mlp_hidden(block.norm2(pre))))
    return {"out": block(x, padding_mask=mask), "unmasked": block(x), "pre_norm": pre_norm}


@encoder_block_is_post_norm.verdict
def _(student, reference):
    what = "EncoderBlock(2, 4, 16)(x (3, 5, 8)) with a stand-in attention sublayer"
    out = np.asarray(student["out"])
    if out.shape == np.shape(student["pre_norm"]) and \
            np.allclose(out, student["pre_norm"], **TOLERANCES):
        raise CheckFailed(f"{what} is PRE-norm, x + sublayer(LN(x)); the original "
                          "transformer's block is post-norm: LN(x + sublayer(x))")
    if out.shape == np.shape(student["unmasked"]) and \
            np.allclose(out, student["unmasked"], **TOLERANCES):
        raise CheckFailed(f"{what}: the output is the same with a padding mask as without: "
                          "pass attention_mask=padding_mask to the attention sublayer")
    expect_close_naming(out, reference["out"], f"{what} under a padding mask (the same "
                        "stand-in for the reference)", advice="post-norm: h = norm1(x + "
                        "attention(x, x, ...)), then norm2(h + MLP(h)) with mlp_hidden then "
                        "mlp_output; is the MLP fed h (not x)?", **TOLERANCES)
    expect_close(student["unmasked"], reference["unmasked"], f"{what} without a mask",
                 **TOLERANCES)


@check(points=2, task="`DecoderBlock.call`",
       hint="h1 = norm1(x + self_attention(x, x, attention_mask=causal_mask(T))); h2 = "
            "norm2(h1 + cross_attention(h1, memory, attention_mask=source_mask)); out = "
            "norm3(h2 + mlp_output(mlp_hidden(h2)))")
def decoder_block_is_post_norm(lab, rng):
    """With stand-in self- and cross-attention sublayers (masked means, not attention) and
    random weights, against the reference's block on the same: 5 target positions over a
    memory of 6 under a source padding mask."""
    attention_class = standins()[0]
    block = lab.encoder_decoder.DecoderBlock(2, 4, 16)
    block.self_attention, block.cross_attention = attention_class(), attention_class()
    x = rng.normal(size=(3, 5, 8)).astype("float32")
    memory = rng.normal(size=(3, 6, 8)).astype("float32")
    mask = lengths_mask(rng, 3, 6)
    block(x, memory)
    assign_random_weights(block, rng, scale=0.5)
    causal = np.tril(np.ones((5, 5), bool))

    def sublayers(first, second, self_mask, source_mask, norms=(block.norm1, block.norm2)):
        h = np.asarray(norms[0](x + first(x, self_mask)))
        h = np.asarray(norms[1](h + second(h, source_mask)))
        return block.norm3(h + np.asarray(block.mlp_output(block.mlp_hidden(h))))

    def self_part(h, m):
        return np.asarray(block.self_attention(h, h, attention_mask=m))

    def cross_part(h, m):
        return np.asarray(block.cross_attention(h, memory, attention_mask=m))
    return {"out": block(x, memory, source_mask=mask),
            "not_causal": sublayers(self_part, cross_part, None, mask),
            "no_source_mask": sublayers(self_part, cross_part, causal, None),
            "cross_first": sublayers(lambda h, m: cross_part(h, mask),
                                     lambda h, m: self_part(h, causal), None, None),
            "cross_first_norms": sublayers(lambda h, m: cross_part(h, mask),
                                           lambda h, m: self_part(h, causal), None, None,
                                           (block.norm2, block.norm1)),
            "cross_reads_x": sublayers(self_part, lambda h, m: cross_part(x, m), causal, mask),
            "pre_norm": pre_norm_decoder(block, x, memory, causal, mask)}


def pre_norm_decoder(block, x, memory, causal, mask):
    """Lab 7's pre-norm order on the same sublayers: x + sublayer(LN(x))."""
    normed = np.asarray(block.norm1(x))
    x = x + np.asarray(block.self_attention(normed, normed, attention_mask=causal))
    normed = np.asarray(block.norm2(x))
    x = x + np.asarray(block.cross_attention(normed, memory, attention_mask=mask))
    return x + np.asarray(block.mlp_output(block.mlp_hidden(block.norm3(x))))


@decoder_block_is_post_norm.verdict
def _(student, reference):
    what = "DecoderBlock(2, 4, 16)(x (3, 5, 8), memory (3, 6, 8), source_mask)"
    out = np.asarray(student["out"])
    for variant, mistake in (
            ("not_causal", "the self-attention has no causal mask: pass attention_mask="
                           "causal_mask(T), or position t reads the targets after it"),
            ("no_source_mask", "the cross-attention ignores source_mask: the decoder then "
                               "reads the padded source positions"),
            ("cross_first", "the cross-attention comes before the self-attention; the "
                            "order is causal self-attention, cross-attention, MLP"),
            ("cross_first_norms", "the cross-attention comes before the self-attention; "
                                  "the order is causal self-attention (norm1), "
                                  "cross-attention (norm2), MLP (norm3)"),
            ("cross_reads_x", "the cross-attention's queries come from the block's input x; "
                              "they come from h1, the self-attention sublayer's output: "
                              "cross_attention(h1, memory, ...)"),
            ("pre_norm", "it is PRE-norm, x + sublayer(LN(x)); the original transformer's "
                         "block is post-norm: LN(x + sublayer(x))")):
        if out.shape == np.shape(student[variant]) and \
                np.allclose(out, student[variant], **TOLERANCES) and \
                not np.allclose(out, reference["out"], **TOLERANCES):
            raise CheckFailed(f"{what}: {mistake}")
    expect_close_naming(out, reference["out"], f"{what} with stand-in attention sublayers "
                        "(the same for the reference)", advice="check the order (causal "
                        "self-attention, then cross-attention with queries from its output, "
                        "then the MLP), each sublayer added to its input and then normed "
                        "(norm1, norm2, norm3 in that order)", **TOLERANCES)


# ---------------------------------------------------------------------------------------------
# 3. The encoder-decoder
# ---------------------------------------------------------------------------------------------


@check(points=2, task="`Encoder.call`",
       hint="token_embedding(tokens) + position_embedding(tf.range(S)) (broadcast over the "
            "batch), then every block with padding_mask=padding_mask(tokens)")
def encoder_output(lab, rng):
    """With two stand-in blocks (a residual masked mean, not attention) and random weights,
    on padded tokens: the outputs against the reference's on the same stand-ins."""
    encoder = lab.encoder_decoder.Encoder(12, 6, d_model=8, num_heads=2, num_layers=2,
                                          mlp_dim=8)
    encoder.blocks = [standins()[1]() for _ in range(2)]
    tokens = padded_tokens(rng, 4, 6, low=2, high=12)
    encoder(tokens)
    assign_random_weights(encoder, rng, scale=0.5)
    embedded = np.asarray(encoder.token_embedding(tokens))
    positions = np.asarray(encoder.position_embedding(np.arange(6)))[None]
    mask = (tokens != PAD)[:, None, :]

    def through_blocks(hidden, block_mask):
        for block in encoder.blocks:
            hidden = block(hidden, padding_mask=block_mask)
        return hidden
    return {"out": encoder(tokens), "no_mask": through_blocks(embedded + positions, None),
            "no_positions": through_blocks(embedded, mask)}


@encoder_output.verdict
def _(student, reference):
    what = "Encoder(...)(tokens (4, 6), padded) with stand-in blocks"
    out = np.asarray(student["out"])
    for variant, mistake in (("no_mask", "the blocks get no padding mask: pass "
                                         "padding_mask=padding_mask(tokens) to every block"),
                             ("no_positions", "no position embeddings are added")):
        if out.shape == np.shape(student[variant]) and \
                np.allclose(out, student[variant], **TOLERANCES):
            raise CheckFailed(f"{what}: {mistake}")
    expect_close(out, reference["out"], f"{what} (the same for the reference)", **TOLERANCES)


@check(points=2, reference=False, task="`Encoder.call`, `DecoderBlock.call` (padding)",
       hint="the encoder's blocks get padding_mask(tokens); every cross-attention gets "
            "source_mask; nothing at a padded source position may reach a real output")
def model_ignores_padding(lab, rng):
    """The whole model (2 blocks each, random weights) on padded sources: changing the PAD
    embedding, or the memory at padded positions, leaves the logits unchanged; changing
    every real word changes every sentence's logits."""
    model = small_transformer(lab, rng)
    source = padded_tokens(rng, 4, 5, min_length=2)
    target_in = rng.integers(0, TARGET_VOCAB, size=(4, 7)).astype("int32")
    base = np.asarray(model((source, target_in)))
    memory, mask = model.encode(source)
    memory = np.asarray(memory)
    padded = source == PAD
    noisy = memory + 3.0 * rng.normal(size=memory.shape).astype("float32") * padded[..., None]
    decoded = np.asarray(model.decode(target_in, memory, mask))
    decoded_noisy = np.asarray(model.decode(target_in, noisy, mask))
    table = model.encoder.token_embedding.embeddings
    table[PAD].assign(3.0 * rng.normal(size=table.shape[-1]).astype("float32"))
    pad_moved = np.asarray(model((source, target_in)))
    words = SOURCE_VOCAB - FIRST_WORD
    changed = np.where(padded, PAD, FIRST_WORD + (source - FIRST_WORD + rng.integers(
        1, words, size=source.shape)) % words).astype("int32")   # every real word another
    real = np.abs(np.asarray(model((changed, target_in))) - pad_moved).max(axis=(1, 2))
    return {"pad_row": float(np.abs(pad_moved - base).max()),
            "padded_memory": float(np.abs(decoded_noisy - decoded).max()),
            "real_word": float(real.min()), "real_word_row": int(real.argmin())}


@model_ignores_padding.verdict
def _(student, _reference):
    expect_true(student["padded_memory"] < 1e-4, "changing the memory at padded source "
                f"positions moved the logits by {student['padded_memory']:.3g}: every "
                "cross-attention must get source_mask (DecoderBlock.call, Transformer.decode)")
    expect_true(student["pad_row"] < 1e-4, "changing the embedding of PAD moved the logits by "
                f"{student['pad_row']:.3g}: the encoder's outputs at real positions depend on "
                "the padded ones. Pass padding_mask(tokens) to every encoder block")
    expect_true(student["real_word"] > 1e-4, "changing every real source word of sentence "
                f"{student.get('real_word_row', 0)} moved its logits by only "
                f"{student['real_word']:.3g} (at most 1e-4): the decoder does not read the "
                "source. Does every decoder block's cross-attention read the memory (and "
                "does Transformer.call decode encode(source)'s memory)?")


@check(points=2, reference=False, task="`DecoderBlock.call`, `Transformer.decode` (causality)",
       hint="each decoder block's self-attention gets causal_mask(T): position t may read "
            "the target inputs up to t only")
def decoder_is_causal(lab, rng):
    """The whole decoder (2 blocks, random weights): the logits at t do not move when the
    target inputs after t change, and do move when the input at t changes."""
    model = small_transformer(lab, rng)
    source = padded_tokens(rng, 2, 5)
    target_in = rng.integers(0, TARGET_VOCAB, size=(2, 7)).astype("int32")
    memory, mask = model.encode(source)
    length = target_in.shape[1]
    copies = np.repeat(target_in[None], length, axis=0)
    for t in range(length):
        copies[t, :, t + 1:] = rng.integers(0, TARGET_VOCAB, size=copies[t, :, t + 1:].shape)
    here = target_in.copy()
    here[:, 3] = (here[:, 3] + 1) % TARGET_VOCAB
    repeat = np.repeat(np.asarray(memory)[None], length, 0).reshape(-1, *memory.shape[1:])
    repeat_mask = np.repeat(np.asarray(mask)[None], length, 0).reshape(-1, *mask.shape[1:])
    base = np.asarray(model.decode(target_in, memory, mask))
    changed = np.asarray(model.decode(copies.reshape(-1, length), repeat, repeat_mask))
    changed = changed.reshape(length, *base.shape)
    moved = [float(np.abs(changed[t, :, :t + 1] - base[:, :t + 1]).max()) for t in range(length)]
    at_three = np.asarray(model.decode(here, memory, mask))
    return {"moved": np.array(moved), "moved_at_3": float(np.abs(at_three - base)[:, 3].max())}


@decoder_is_causal.verdict
def _(student, _reference):
    moved = np.asarray(student["moved"])
    if moved.max() > 1e-4:
        t = int(np.argmax(moved > 1e-4))
        raise CheckFailed(f"the decoder's logits at positions <= {t} moved by {moved[t]:.3g} "
                          f"when only the target inputs after {t} changed: the decoder reads "
                          "the future. Give every self-attention causal_mask(T)")
    expect_true(student["moved_at_3"] > 1e-4, "changing the target input at position 3 left "
                "the logits at 3 unchanged: position t must read its own input")


def rule_transformer(lab):
    """A Transformer whose encode and decode follow a fixed rule, no weights: the memory is
    the source ids, and position k's favoured next token depends on the token at k, on k and
    on the source; at k = (sum of the source ids) % 9 + 1 it is EOS."""
    import tensorflow as tf

    class RuleTransformer(lab.encoder_decoder.Transformer):
        def encode(self, source):
            source = tf.cast(source, tf.int32)
            return tf.cast(source, tf.float32)[..., None], tf.not_equal(source, PAD)[:, None, :]

        def decode(self, target_in, memory, source_mask):
            total = tf.cast(tf.reduce_sum(memory, axis=[1, 2]), tf.int32)[:, None]
            tokens = tf.cast(target_in, tf.int32)
            steps = tf.range(tf.shape(tokens)[1])[None, :]
            favoured = tf.where(steps == total % 9 + 1, EOS,
                                FIRST_DIGIT + (3 * tokens + total + steps) % 10)
            angle = (2 * np.pi / TARGET_VOCAB) * tf.cast(
                tf.range(TARGET_VOCAB)[None, None, :] - favoured[..., None], tf.float32)
            return 3.0 * tf.cos(angle)

    return RuleTransformer(5, 9, d_model=8, num_heads=2, num_layers=1, mlp_dim=8)


def rule_rollout(source, length, first_position=False):
    """Greedy decoding of the rule model in numpy: (N, length) with PAD after EOS."""
    total = np.asarray(source).sum(axis=1)
    tokens = [np.ones(len(total), np.int64)]      # BOS
    for k in range(length):
        read = 0 if first_position else k
        favoured = np.where(read == total % 9 + 1, EOS,
                            FIRST_DIGIT + (3 * tokens[read] + total + read) % 10)
        tokens.append(favoured)
    out = np.stack(tokens[1:], axis=1)
    after = np.cumsum(out == EOS, axis=1) - (out == EOS) > 0
    out[after] = PAD
    return out


@check(points=2, task="`Transformer.greedy_decode`",
       hint="encode once; tokens = a column of BOS; each step: decode(tokens, memory, "
            "source_mask)[:, -1] (the LAST position), argmax, append; then "
            "stop_at_eos(tokens[:, 1:])")
def greedy_decode(lab, rng):
    """On a Transformer whose decode follows a fixed rule (the next token depends on the
    token read, its position and the source; EOS at a position set by the source): 6 sources
    decoded for 8 steps, against the rule rolled out in numpy (PAD after EOS)."""
    source = padded_tokens(rng, 6, 5)
    return {"source": source, "decoded": rule_transformer(lab).greedy_decode(source, 8)}


@greedy_decode.verdict
def _(student, reference):
    source = np.asarray(student["source"])
    what = "greedy_decode(source (6, 5), 8) on a decoder whose logits follow a fixed rule"
    decoded = expect_shape(student["decoded"], (6, 8), what)
    expected = rule_rollout(source, 8)
    if not np.array_equal(decoded, expected):
        if np.array_equal(decoded, rule_rollout(source, 8, first_position=True)):
            raise CheckFailed(f"{what}: it reads the logits of position 0; the next token "
                              "comes from the LAST position, logits[:, -1]")
        ends = (expected == EOS).any(axis=1)
        if np.array_equal(decoded[~ends], expected[~ends]):
            raise CheckFailed(f"{what}: right until EOS, wrong after it: a row is finished at "
                              "its first EOS (stop_at_eos(tokens[:, 1:]) puts PAD after it)")
    expect_equal(decoded, expected, f"{what} (the rule rolled out in numpy)")
