"""Public checks of lab07b_encoder_decoder, part 2: key/value caching. The cached block and
model are compared with the student's own uncached ones on every prefix (the same function,
computed again from scratch); the work saved is counted from the shapes the given
`attention` function receives, not timed."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, standing_in
from autograder.checks.lab07b_encoder_decoder.probes import (
    BOS,
    TARGET_VOCAB,
    counting_attention,
    error_text,
    padded_tokens,
    small_transformer,
)
from autograder.verdicts import expect_close, expect_true


def block_steps(lab, rng, *, batch, length, source_length, num_heads, head_dim, mlp_dim):
    """A DecoderBlock with random weights, stepped through `length` positions with a cache:
    each step's output, the uncached block on that prefix (its last position), and the
    cache's shapes."""
    width = num_heads * head_dim
    block = lab.encoder_decoder.DecoderBlock(num_heads, head_dim, mlp_dim)
    x = rng.normal(size=(batch, length, width)).astype("float32")
    memory = rng.normal(size=(batch, source_length, width)).astype("float32")
    mask = padded_tokens(rng, batch, source_length) != 0
    mask = mask[:, None, :]
    block(x, memory, mask)
    assign_random_weights(block, rng, scale=0.4)
    empty = np.zeros((batch, num_heads, 0, head_dim), "float32")
    cache = {"keys": empty, "values": empty}
    stepped, uncached, shapes = [], [], []
    try:
        for t in range(length):
            out, cache = block.step(x[:, t:t + 1], cache, memory, mask)
            stepped.append(np.asarray(out)[:, 0])
            shapes.append([list(np.shape(cache["keys"])), list(np.shape(cache["values"]))])
            uncached.append(np.asarray(block(x[:, :t + 1], memory, mask))[:, -1])
        error = ""
    except Exception as caught:  # the message goes to the student
        error = error_text(caught)
    return {"stepped": np.array(stepped), "uncached": np.array(uncached),
            "shapes": np.array(shapes, "int64"), "error": error,
            "config": f"DecoderBlock({num_heads}, {head_dim}, {mlp_dim}) on x ({batch}, "
                      f"{length}, {width}), memory ({batch}, {source_length}, {width})"}


def judge_block_steps(student):
    what = f"{student['config']}, stepped one position at a time with a cache"
    if student["error"]:
        raise CheckFailed(f"{what} failed. The error: {student['error']}")
    shapes = np.asarray(student["shapes"])
    stepped, uncached = np.asarray(student["stepped"]), np.asarray(student["uncached"])
    batch, heads = (int(v) for v in shapes[0, 0, :2]) if len(shapes) else (0, 0)
    for t, (keys, values) in enumerate(shapes):
        expect_true(list(keys) == list(values) and keys[2] == t + 1 and keys[0] == batch and
                    keys[1] == heads, f"{what}: after step {t} the cache holds keys "
                    f"{tuple(keys)} and values {tuple(values)}; expected (N, H, {t + 1}, Dh): "
                    "append this position's keys and values to the cache's (axis 2)")
    if stepped.shape == uncached.shape and len(stepped) > 1 and \
            np.allclose(stepped[0], uncached[0], atol=1e-4) and \
            not np.allclose(stepped[1:], uncached[1:], atol=1e-4):
        raise CheckFailed(f"{what}: right at step 0, wrong later: the new position must "
                          "attend over the cached keys and values of the earlier positions "
                          "AND its own (self_attention.attend(x, all keys, all values))")
    expect_close(stepped, uncached, f"{what}: the output at each step against your own "
                 "uncached block (call) on that prefix (its last position)", rtol=1e-3,
                 atol=1e-4, against="your uncached block's (not the reference's: if call "
                 "passes its checks, step differs from it; does step give the cross-attention "
                 "attention_mask=source_mask, as call does?)")


@check(points=2, reference=False, task="`DecoderBlock.step`",
       hint="keys, values = self_attention.project_keys_values(x); concatenate them after "
            "the cache's on axis 2; self_attention.attend(x, keys, values) (no mask); then "
            "the cross-attention with attention_mask=source_mask and the MLP as in call, "
            "each post-norm")
def decoder_block_step(lab, rng):
    """A decoder block with random weights, stepped through 6 positions from an empty cache:
    each step's output equals the uncached block's at the last position of that prefix;
    the cache grows by one position a step."""
    return block_steps(lab, rng, batch=3, length=6, source_length=5, num_heads=2, head_dim=4,
                       mlp_dim=16)


@decoder_block_step.verdict
def _(student, _reference):
    judge_block_steps(student)


def model_steps(lab, rng, *, batch=3, length=7, num_layers=2):
    model = small_transformer(lab, rng, target_length=length, num_layers=num_layers)
    source = padded_tokens(rng, batch, 5)
    tokens = np.concatenate([np.full((batch, 1), BOS), rng.integers(
        3, TARGET_VOCAB, size=(batch, length - 1))], axis=1).astype("int32")
    memory, mask = model.encode(source)
    caches = model.start_cache(batch)
    cached, uncached = [], []
    try:
        for t in range(length):
            logits, caches = model.decode_step(tokens[:, t], t, caches, memory, mask)
            cached.append(np.asarray(logits))
            uncached.append(np.asarray(model.decode(tokens[:, :t + 1], memory, mask))[:, -1])
        error = ""
    except Exception as caught:  # the message goes to the student
        error = error_text(caught)
    return {"cached": np.array(cached), "uncached": np.array(uncached), "error": error,
            "caches": len(caches), "layers": num_layers}


def judge_model_steps(student):
    layers = int(student["layers"])
    what = (f"Transformer.decode_step, step by step from start_cache ({layers} decoder "
            f"block{'s' if layers != 1 else ''})")
    if student["error"]:
        raise CheckFailed(f"{what} failed. The error: {student['error']}")
    expect_true(student["caches"] == student["layers"], f"{what} returned "
                f"{student['caches']} caches; one per decoder block, in block order")
    cached, uncached = np.asarray(student["cached"]), np.asarray(student["uncached"])
    if cached.shape == uncached.shape and len(cached) > 1 and \
            np.allclose(cached[0], uncached[0], atol=1e-4) and \
            not np.allclose(cached[1:], uncached[1:], atol=1e-4):
        raise CheckFailed(f"{what}: right at step 0 and wrong after: is the token embedded at "
                          "its position (embed_target(token[:, None], start=step)), and does "
                          "each block get its own cache back?")
    expect_close(cached, uncached, f"{what}: the logits (N, V) at every step against your "
                 "own decode(all tokens up to that step)[:, -1]", rtol=1e-3, atol=1e-4,
                 against="your uncached decoder's (not the reference's: decode_step differs "
                 "from your decode; does each block's step use source_mask as its call does?)")


@check(points=2, reference=False, task="`Transformer.decode_step`",
       hint="embed_target(token[:, None], start=step); each block's step with its own cache; "
            "head; return the logits (N, V) and the new caches in block order")
def cached_logits_match_uncached(lab, rng):
    """A Transformer with random weights (2 decoder blocks) fed 7 target tokens one at a
    time: the cached logits at every step equal the uncached decoder's on that prefix."""
    return model_steps(lab, rng)


@cached_logits_match_uncached.verdict
def _(student, _reference):
    judge_model_steps(student)


CACHE_TOKENS, CACHE_SOURCE, CACHE_LAYERS = 16, 4, 2
CACHE_MIN_SAVING = 4.0   # the cache's saving at 16 tokens is 10.2-fold


@check(points=2, reference=False, task="`DecoderBlock.step`, `Transformer.decode_step` (cost)",
       hint="a cached step computes ONE query: the new position's (N, H, 1, Dh), attending "
            "over the t cached keys plus its own; never the whole prefix again")
def cache_saves_attention_work(lab, rng):
    """Greedy decoding of 16 tokens with the cache (2 decoder blocks, sources of 4),
    counting the query x key products the given `attention` function computes: every
    decoder call has one query, the self-attention reads 1, 2, ..., 16 keys, and the total is
    at least 4 times below the uncached decoder's (Σ t² + 4 t per block)."""
    model = small_transformer(lab, rng, source_length=CACHE_SOURCE, target_length=CACHE_TOKENS,
                              num_layers=CACHE_LAYERS)
    source = padded_tokens(rng, 2, CACHE_SOURCE, min_length=CACHE_SOURCE)
    calls = []
    with standing_in(lab.encoder_decoder, attention=counting_attention(calls)):
        model.encode(source)
        encoder_calls = len(calls)
        del calls[:]
        model.greedy_decode_cached(source, CACHE_TOKENS)
    return {"calls": np.array(calls, "int64").reshape(-1, 3),
            "encoder_calls": encoder_calls}


@cache_saves_attention_work.verdict
def _(student, _reference):
    calls = np.asarray(student["calls"]).reshape(-1, 3)
    decoder = calls[int(student["encoder_calls"]):]   # greedy_decode_cached encodes first
    expect_true(len(decoder) > 0, "no call of the given `attention` function was counted "
                "while decoding with the cache: attend must compute the weights with "
                "attention(...)")
    queries = sorted(set(decoder[:, 0].tolist()))
    expect_true(queries == [1], f"decoding with the cache, the attention calls had "
                f"{queries} queries; a cached step computes one query only (the new position)")
    keys = sorted(decoder[:, 1].tolist())
    wanted = sorted(list(range(1, CACHE_TOKENS + 1)) * CACHE_LAYERS +
                    [CACHE_SOURCE] * CACHE_TOKENS * CACHE_LAYERS)
    expect_true(keys == wanted, "decoding 16 tokens with the cache, the attention calls read "
                f"{keys} keys; expected 1, 2, ..., 16 per block (the cache plus the new "
                f"position) and {CACHE_SOURCE} per cross-attention")
    width = int(decoder[0, 2])
    cached = float((decoder[:, 0] * decoder[:, 1] * decoder[:, 2]).sum())
    steps = np.arange(1, CACHE_TOKENS + 1)
    uncached = float(CACHE_LAYERS * width * (steps ** 2 + CACHE_SOURCE * steps).sum())
    expect_true(uncached / cached >= CACHE_MIN_SAVING, f"decoding 16 tokens, the cached "
                f"decoder computed {cached:.0f} query x key products, the uncached one "
                f"{uncached:.0f}: the cache must save at least {CACHE_MIN_SAVING:g}-fold")
