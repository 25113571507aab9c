"""Beam-search probes and verdicts of lab06b_attention.

beam_search runs on check-defined decoders (a table of log-probabilities indexed by a hash of
the prefix); the verdicts enumerate every sequence with itertools.product (exhaustive
search), decode greedily, and, on decoders with exact ties, enumerate the extensions in the
order the handout's tie rule gives, independently of the student's search.
Probes run in the worker, verdicts in the grader: numpy and scipy only at module level.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy.special import log_softmax

from autograder.verdicts import expect_close, expect_true

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


class TiedDecoder(TableDecoder):
    """A decoder whose table already holds log-probabilities with exact ties (tied_table):
    its rows are returned as they are, so equal log-probabilities are equal floats."""

    def __call__(self, tokens, states):
        self.calls += 1
        tokens = np.asarray(tokens, np.int64).reshape(-1)
        states = np.asarray(states, np.int64).reshape(-1)
        if len(tokens) != len(states):
            raise ValueError(f"step() got {len(tokens)} tokens and {len(states)} states: one "
                             "of each per hypothesis")
        new_states = (states * self.MULTIPLIER + tokens + 1) % len(self.table)
        return self.table[new_states].copy(), new_states


def tied_table(rng, vocab, contexts):
    """Log-probabilities with exact ties: logits of 0 or 1 (all 0 with contexts=1: uniform),
    each row normalised over its logits in sorted order, so that rows holding the same logits
    hold the same floats."""
    logits = rng.integers(0, 2, size=(contexts, vocab)).astype(np.float64)
    if contexts == 1:
        logits[:] = 0.0
    return logits - np.log(np.exp(np.sort(logits, axis=1)).sum(axis=1, keepdims=True))


def tie_probe(lab, rng, vocab, max_length, widths, tables):
    """beam_search on decoders with exact ties (the first uniform), at each width."""
    end, start = vocab - 1, vocab
    runs = []
    for contexts in tables:
        table = tied_table(rng, vocab, contexts)
        initial = np.array([int(rng.integers(len(table)))])
        for width in widths:
            tokens, score = lab.beam.beam_search(TiedDecoder(table), initial, start, end,
                                                 width, max_length)
            runs.append({"table": table, "initial": int(initial[0]), "width": width,
                         "tokens": np.asarray([int(t) for t in tokens], "int64"),
                         "score": float(score)})
    return {"runs": runs, "vocab": vocab, "max_length": max_length, "start": start, "end": end}


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


def running_scores(table, initial, start, tokens):
    """The scores of every prefix of `tokens`, longest first, each the previous one plus the
    token's log-probability (a table row of the tied decoder, as it is), from 0."""
    state, last, total, scores = initial, start, 0.0, []
    for token in tokens:
        state = (state * TableDecoder.MULTIPLIER + last + 1) % len(table)
        total = total + table[state][token]
        scores.append(total)
        last = token
    return scores[::-1]


def tie_ranked_search(table, initial, start, end, vocab, width, max_length, reversed_ties=False):
    """Which sequences beam search finishes under the handout's tie rule, by enumeration: at
    each length, of all one-token extensions of the survivors, the `width` first in the order
    of their score, then their prefixes' scores (longest first), then their tokens; the rule
    "ties: the earlier hypothesis, then the smaller token" unrolled (a hypothesis's place in
    the beam is its place in that order). reversed_ties: the later hypothesis and the larger
    token first instead (the slip np.argsort(scores)[::-1])."""
    def order(tokens):
        return ([-score for score in running_scores(table, initial, start, tokens)],
                [-t for t in tokens] if reversed_ties else list(tokens))
    running, finished = [()], []
    while running and len(running[0]) < max_length:
        extensions = sorted((prefix + (token,) for prefix in running for token in range(vocab)),
                            key=order)[:width]
        finished += [tokens for tokens in extensions if tokens[-1] == end]
        running = [tokens for tokens in extensions if tokens[-1] != end]
    finished += running
    return {tuple(tokens): running_scores(table, initial, start, tokens)[0]
            for tokens in finished}


def judge_ties(student, _reference=None):
    for run in student["runs"]:
        judge_consistent(student, run)
        tokens = [int(t) for t in run["tokens"]]
        best, wrong = (best_finished(tie_ranked_search(
            np.asarray(run["table"]), run["initial"], student["start"], student["end"],
            student["vocab"], run["width"], student["max_length"], reversed_ties=rule))
            for rule in (False, True))
        advice = ""
        if tokens in wrong[0] and tokens not in best[0]:
            advice = (": ties went the wrong way; rank with a stable sort of -score "
                      "(np.argsort(-candidates, kind=\"stable\"); np.argsort(candidates)[::-1] "
                      "puts ties in reverse order)")
        expect_true(tokens in best[0], f"{beam_call(student, run)}, on a decoder with exactly "
                    f"equal log-probabilities, returned {tokens} ({run['score']:.4f}); keeping "
                    "the beam_width best extensions at each step, ties to the earlier "
                    f"hypothesis, then the smaller token, it finishes with {best[0][0]} "
                    f"({best[1]:.4f}){advice}")


def best_finished(finished):
    """The finished sequences of the highest score (any of them may be returned), and it."""
    best = max(finished.values())
    return [list(tokens) for tokens, score in finished.items() if score == best], best


def judge_narrow(student, reference):
    for run, expected in zip(student["runs"], reference["runs"]):
        judge_consistent(student, run)
        tokens, wanted = [int(t) for t in run["tokens"]], [int(t) for t in expected["tokens"]]
        expect_true(tokens == wanted, f"{beam_call(student, run)} returned {tokens} (score "
                    f"{run['score']:.4f}), the reference {wanted} ({expected['score']:.4f}): "
                    "keep the beam_width best extensions of all running hypotheses together, "
                    "finish those ending in END (they leave the beam), run on with the others")
