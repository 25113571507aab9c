"""Attention, training and beam-search probes and verdicts of lab06b_attention.

- additive_attention is compared with an independent numpy computation written here
  position by position (a softmax over the unmasked source positions only, scipy's), on
  check-defined weights; the verdict names the known slips (softmax over the wrong axis,
  a mask off by one, no tanh, the mask ignored, weights masked after the softmax).
- The training check trains AttentionSeq2Seq with and without attention at one seed, on
  the check's own reversal data, with a stand-in lengths_to_mask that allows every position
  (the check's sources have no padding, so only additive_attention decides it).
- beam_search runs on a check-defined decoder (a table of log-probabilities indexed by a
  hash of the prefix); the verdicts enumerate every sequence with itertools.product
  (exhaustive search) and decode greedily, independently of the student's search.
Probes run in the worker, verdicts in the grader: numpy and scipy only at module level.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy.special import log_softmax, softmax

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
    return {"lengths": lengths, "max_length": max_length, "mask": as_bool(masks),
            "traced": as_bool(traced(tf.constant(lengths)))}


def as_bool(value):
    array = np.asarray(value)
    if array.dtype != bool:
        raise TypeError(f"the mask has dtype {array.dtype}, expected bool")
    return array


def judge_mask(student, reference):
    lengths, size = list(student["lengths"]), student["max_length"]
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
    expect_equal(student["traced"], reference["mask"], f"{call} inside a tf.function on a "
                 "tensor of unknown length (as the model calls it under fit)")


def attention_inputs(rng, batch, queries, sources, query_dim, key_dim, units, lengths):
    """Random queries, keys and weights; the mask of `lengths` (row 0: a mask with holes)."""
    mask = np.zeros((batch, sources), bool)
    for row, length in enumerate(lengths):
        mask[row, :length] = True
    holes = rng.random(sources) < 0.5
    holes[rng.integers(sources)] = True
    mask[0] = holes
    return {"query": rng.normal(size=(batch, queries, query_dim)),
            "keys": rng.normal(size=(batch, sources, key_dim)),
            "w_query": rng.normal(scale=0.7, size=(query_dim, units)),
            "w_keys": rng.normal(scale=0.7, size=(key_dim, units)),
            "v": rng.normal(size=units), "mask": mask}


def attention_probe(lab, rng, batch, queries, sources, query_dim, key_dim, units, lengths,
                    dtype="float32"):
    import tensorflow as tf
    inputs = attention_inputs(rng, batch, queries, sources, query_dim, key_dim, units, lengths)
    args = {k: tf.constant(v if k == "mask" else v.astype(dtype)) for k, v in inputs.items()}
    context, weights = lab.attention.additive_attention(
        args["query"], args["keys"], args["mask"], args["w_query"], args["w_keys"], args["v"])
    unmasked = lab.attention.additive_attention(
        args["query"], args["keys"], None, args["w_query"], args["w_keys"], args["v"])
    return {**{k: v.astype(dtype) if k != "mask" else v for k, v in inputs.items()},
            "dtype": dtype, "context": context, "weights": weights,
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
                            "to 1: mask the scores before it"}


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
    mistakes = [(numpy_attention(mask=mask, slip=slip, **inputs)[1], message)
                for slip, message in ATTENTION_SLIPS.items()]
    weights = as_array(student["weights"], f"the weights of {call}").astype(np.float64)
    expect_close_naming(weights, expected_weights, f"the attention weights of {call}, "
                        "against an independent numpy computation", mistakes,
                        match_rtol=1e-3, match_atol=1e-4, **tolerance)
    expect_close(np.asarray(student["context"], np.float64), expected_context,
                 f"the context vectors of {call} (the weights are right: context[n, t] = "
                 "sum over s of weights[n, t, s] * keys[n, s])", **tolerance)
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


def paired_loss(targets, logits):
    """The loss of two models trained side by side: their logits joined on the last axis,
    each half's mean cross-entropy, summed (each model's gradient is its own loss's)."""
    from keras import ops
    half = ops.shape(logits)[-1] // 2
    loss = 0.0
    for part in (logits[..., :half], logits[..., half:]):
        loss += ops.mean(ops.sparse_categorical_crossentropy(targets, part, from_logits=True))
    return loss


def training_probe(lab, rng, budget):
    """Train AttentionSeq2Seq with attention and the same model without attention side by
    side (one fit, the same seed, data and batches), on the reversal task; the held-out
    teacher-forced accuracy of both, and how much of the attention falls on the mirrored
    source position."""
    import keras
    from keras import ops
    attention = lab.attention
    length = budget["length"]
    keras.utils.set_random_seed(int(rng.integers(2 ** 31)))
    sources, targets = reversal(rng, budget["train_size"], length)
    test_sources, test_targets = reversal(rng, budget["test_size"], length)
    start = np.full((len(targets), 1), attention.START, "int32")
    inputs = np.concatenate([start, targets[:, :-1]], axis=1)
    test_inputs = np.concatenate([start[:len(test_targets)], test_targets[:, :-1]], axis=1)
    models = [attention.AttentionSeq2Seq(embed_dim=budget["embed_dim"], units=budget["units"],
                                         attention_units=budget["units"], use_attention=use)
              for use in (True, False)]
    source_in = keras.Input((length,), dtype="int32")
    decoder_in = keras.Input((length,), dtype="int32")
    both = keras.Model([source_in, decoder_in], ops.concatenate(
        [model((source_in, decoder_in)) for model in models], axis=-1))
    both.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]), loss=paired_loss,
                 steps_per_execution=budget["train_size"] // budget["batch_size"])
    out = {}
    with standing_in(attention, lengths_to_mask=everything_allowed):
        both.fit((sources, inputs), targets, batch_size=budget["batch_size"],
                 epochs=budget["epochs"], shuffle=False, verbose=0)
        for model, name in zip(models, ("attention", "no_attention")):
            keys, mask, state = model.encode(test_sources)
            logits, _, weights = model.decode(test_inputs, state, keys, mask)
            correct = np.asarray(logits).argmax(axis=-1) == test_targets
            out[name] = float(correct.mean())
            out[f"{name}_sequences"] = float(correct.all(axis=1).mean())
            if weights is not None:
                steps = np.arange(length)
                out["mirror"] = float(np.asarray(weights, np.float64)[
                    :, steps, length - 1 - steps].mean())
    return out


def judge_training(student, reference, margin, gap, mirror_margin):
    what = (f"the held-out token accuracy of the attention model trained on reversal "
            f"(whole sequences: {student['attention_sequences']:.0%}; the reference: "
            f"{reference['attention']:.1%} of tokens, the same model without attention: "
            f"{student['no_attention']:.1%})")
    expect_at_least(student["attention"], reference["attention"] - margin, what)
    expect_at_least(student["attention"], student["no_attention"] + gap,
                    f"{what}, which attention must beat by {gap:.0%}")
    expect_at_least(student["mirror"], reference["mirror"] - mirror_margin,
                    "the mean attention weight on the mirrored source position (reversal: "
                    f"step t reads position S-1-t; the reference: {reference['mirror']:.2f})")


# ---- Beam search on a check-defined decoder ---------------------------------------------------

class TableDecoder:
    """The check's decoder: the state is a hash of the prefix read so far (an int per
    hypothesis), and the next token's log-probabilities are a row of a random table chosen
    by the new hash, so every prefix has its own distribution."""
    MULTIPLIER = 131

    def __init__(self, table):
        self.table = np.asarray(table, np.float64)
        self.calls = 0

    def __call__(self, tokens, states):
        self.calls += 1
        tokens = np.asarray(tokens, np.int64).reshape(-1)
        states = np.asarray(states, np.int64).reshape(-1)
        if len(tokens) != len(states):
            raise ValueError(f"step() got {len(tokens)} tokens and {len(states)} states: one "
                             "of each per hypothesis")
        new_states = (states * self.MULTIPLIER + tokens + 1) % len(self.table)
        return log_softmax(self.table[new_states], axis=-1), new_states


def decoder_table(rng, vocab, end_token, end_bias, contexts=97):
    table = 1.5 * rng.normal(size=(contexts, vocab))
    table[:, end_token] += end_bias
    return table


def beam_probe(lab, rng, vocab, max_length, widths, end_biases):
    """beam_search on check-defined decoders (one per end bias), at each width. END is the
    last token; START is `vocab` (never emitted)."""
    end, start = vocab - 1, vocab
    runs = []
    for bias in end_biases:
        table = decoder_table(rng, vocab, end, bias)
        initial = np.array([int(rng.integers(len(table)))])
        for width in widths:
            tokens, score = lab.beam.beam_search(TableDecoder(table), initial, start, end,
                                                 width, max_length)
            runs.append({"table": table, "initial": int(initial[0]), "width": width,
                         "tokens": np.asarray([int(t) for t in tokens], "int64"),
                         "score": float(score)})
    return {"runs": runs, "vocab": vocab, "max_length": max_length, "start": start, "end": end}


def sequence_score(table, initial, start, tokens):
    """The log-probability of `tokens` under the decoder of `table`, read from START."""
    state, last, total = initial, start, 0.0
    for token in tokens:
        state = (state * TableDecoder.MULTIPLIER + last + 1) % len(table)
        total += log_softmax(table[state])[token]
        last = token
    return total


def exhaustive_search(table, initial, start, end, vocab, max_length):
    """The best sequence of all: every sequence of max_length tokens, cut after its first END
    (so every length up to max_length is tried), scored token by token."""
    best = (None, -np.inf)
    for tokens in itertools.product(range(vocab), repeat=max_length):
        cut = list(tokens[:tokens.index(end) + 1]) if end in tokens else list(tokens)
        score = sequence_score(table, initial, start, cut)
        if score > best[1] + 1e-12:
            best = (cut, score)
    return best


def greedy_search(table, initial, start, end, max_length):
    state, tokens = initial, []
    while len(tokens) < max_length and end not in tokens:
        state = (state * TableDecoder.MULTIPLIER + (tokens[-1] if tokens else start) + 1) \
            % len(table)
        tokens.append(int(np.argmax(table[state])))
    return tokens, sequence_score(table, initial, start, tokens)


def beam_call(student, run):
    return (f"beam_search(step, ..., beam_width={run['width']}, max_length="
            f"{student['max_length']}) on the check's decoder over {student['vocab']} tokens "
            f"(END = {student['end']})")


def judge_consistent(student, run):
    """The tokens are a valid sequence and the score is their log-probability."""
    call, tokens = beam_call(student, run), [int(t) for t in run["tokens"]]
    end, table = student["end"], np.asarray(run["table"])
    expect_true(0 < len(tokens) <= student["max_length"], f"{call} returned {len(tokens)} "
                f"tokens, expected 1 to {student['max_length']}")
    expect_true(end not in tokens[:-1], f"{call} returned {tokens}: a hypothesis that emitted "
                "END is finished, never extended")
    expect_true(len(tokens) == student["max_length"] or tokens[-1] == end, f"{call} returned "
                f"{tokens}, shorter than max_length without END")
    score = sequence_score(table, run["initial"], student["start"], tokens)
    expect_close(run["score"], score, f"the score {call} gave for {tokens} (the sum of its "
                 "tokens' log-probabilities, END's included)", rtol=1e-6, atol=1e-6)


def judge_exhaustive(student, _reference=None):
    for run in student["runs"]:
        judge_consistent(student, run)
        best, score = exhaustive_search(np.asarray(run["table"]), run["initial"],
                                        student["start"], student["end"], student["vocab"],
                                        student["max_length"])
        tokens = [int(t) for t in run["tokens"]]
        expect_true(tokens == best, f"{beam_call(student, run)}, a beam wider than the number "
                    f"of hypotheses, returned {tokens} (log-probability {run['score']:.4f}); "
                    f"exhaustive search finds {best} ({score:.4f})")


def judge_greedy(student, _reference=None):
    for run in student["runs"]:
        judge_consistent(student, run)
        best, score = greedy_search(np.asarray(run["table"]), run["initial"], student["start"],
                                    student["end"], student["max_length"])
        tokens = [int(t) for t in run["tokens"]]
        expect_true(tokens == best, f"{beam_call(student, run)} returned {tokens}; greedy "
                    f"decoding gives {best} ({score:.4f}): with one hypothesis, beam search "
                    "keeps the single best extension at each step")


def judge_narrow(student, reference):
    for run, expected in zip(student["runs"], reference["runs"]):
        judge_consistent(student, run)
        tokens, wanted = [int(t) for t in run["tokens"]], [int(t) for t in expected["tokens"]]
        expect_true(tokens == wanted, f"{beam_call(student, run)} returned {tokens} (score "
                    f"{run['score']:.4f}), the reference {wanted} ({expected['score']:.4f}): "
                    "keep the beam_width best extensions of all running hypotheses together, "
                    "finish those ending in END (they leave the beam), run on with the others")
