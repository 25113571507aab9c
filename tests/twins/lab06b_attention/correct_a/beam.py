"""Lab 6b, part 4: beam search decoding. Fill in the parts marked TODO.

A decoder gives, for each hypothesis (a prefix of tokens), the log-probabilities of the next
token. Greedy decoding keeps the single best extension at each step; beam search keeps the
beam_width best, which finds sequences that greedy decoding misses when a less likely first
token leads to much more likely continuations. The score of a sequence is the sum of the
log-probabilities of its tokens (no length normalisation).

Length handling: a hypothesis that emits end_token is finished (END is part of its tokens
and its log-probability part of its score) and is never extended again; after max_length
steps, the hypotheses still running are finished as they are (without END).
"""
import numpy as np


def beam_search(step, initial_state, start_token, end_token, beam_width, max_length):
    """The best sequence beam search finds, and its score.

    step(tokens (B,) int, states (B, ...)) -> (log_probs (B, V), new_states (B, ...)),
    numpy arrays: the log-probabilities of the next token of B hypotheses whose last tokens
    are `tokens`, and their states after reading them. initial_state: (1, ...), the state
    before the first token; the first step reads start_token.

    At every step (at most max_length), every running hypothesis is extended by every
    token; of all these extensions, the beam_width of highest score are kept (ties: the
    earlier hypothesis, then the smaller token). Those that end with end_token are finished;
    the others run on (so the beam shrinks as hypotheses finish). It stops when none runs.
    Returns (tokens, score): the finished hypothesis of highest score, its tokens a list of
    ints without start_token (ending with end_token if it emitted it), score a float.
    With beam_width=1 this is greedy decoding.
    """
    running_tokens = [[]]
    scores = np.zeros(1)
    states = np.asarray(initial_state)
    last = np.array([start_token])
    finished = []
    for _ in range(max_length):
        if not running_tokens:
            break
        log_probs, new_states = step(last, states)
        log_probs = np.asarray(log_probs, "float64")
        V = log_probs.shape[-1]
        candidates = (scores[:, None] + log_probs).reshape(-1)
        order = np.argsort(-candidates, kind="stable")[:beam_width]
        new_states = np.asarray(new_states)
        keep_tokens, keep_scores, keep_idx = [], [], []
        for o in order:
            h, t = int(o // V), int(o % V)
            toks = running_tokens[h] + [t]
            if t == end_token:
                finished.append((toks, float(candidates[o])))
            else:
                keep_tokens.append(toks); keep_scores.append(candidates[o]); keep_idx.append(h)
        running_tokens = keep_tokens
        scores = np.array(keep_scores, "float64")
        if keep_idx:
            states = new_states[np.array(keep_idx)]
            last = np.array([t[-1] for t in keep_tokens])
    for toks, sc in zip(running_tokens, scores):
        finished.append((toks, float(sc)))
    best = max(finished, key=lambda f: f[1])
    return [int(t) for t in best[0]], float(best[1])
