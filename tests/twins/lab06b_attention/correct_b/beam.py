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
    # beam: list of (tokens, score); states kept aligned in an array
    beam = [([], 0.0)]
    states = np.asarray(initial_state)
    finished = []
    for _ in range(max_length):
        last = np.array([toks[-1] if toks else start_token for toks, _ in beam], dtype=np.int64)
        log_probs, next_states = step(last, states)
        log_probs = np.asarray(log_probs, dtype=np.float64)
        next_states = np.asarray(next_states)
        candidates = []
        for h, (toks, score) in enumerate(beam):
            for tok in range(log_probs.shape[1]):
                candidates.append((score + log_probs[h, tok], h, tok))
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        new_beam, parents = [], []
        for score, h, tok in candidates[:beam_width]:
            if tok == end_token:
                finished.append((beam[h][0] + [tok], score))
            else:
                new_beam.append((beam[h][0] + [tok], score))
                parents.append(h)
        beam = new_beam
        if not beam:
            break
        states = next_states[parents]
    finished.extend(beam)
    best_tokens, best_score = finished[0]
    for toks, score in finished[1:]:
        if score > best_score:
            best_tokens, best_score = toks, score
    return [int(t) for t in best_tokens], float(best_score)
