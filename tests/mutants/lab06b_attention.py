"""Mutants of lab06b_attention: the mistakes students make with task generators,
bidirectional and stacked encoders, additive attention and beam search."""
from tests.mutants import Mutant

TASKS, ENCODERS, ATTENTION, BEAM = "tasks.py", "encoders.py", "attention.py", "beam.py"

MUTANTS = [
    # The reverse flag forgotten: reversal is a copy.
    Mutant("copy_task_ignores_reverse", TASKS,
           "targets = sources[:, ::-1] if reverse else sources",
           "targets = sources",
           breaks=("copy_task",), says="backwards"),
    # A fresh global generator: different data on every call, whatever the seed.
    Mutant("copy_task_draws_from_np_random", TASKS,
           'sources = rng.integers(0, NUM_DIGITS, size=(n, length)).astype("int32")',
           'sources = np.random.randint(0, NUM_DIGITS, size=(n, length)).astype("int32")',
           breaks=("copy_task",), says="same seed"),
    # Digit by digit, the carry dropped.
    Mutant("add_task_without_the_carry", TASKS,
           "return sources, digits_of(a + b, num_digits + 1)",
           "return sources, (digits_of(a, num_digits + 1) + digits_of(b, num_digits + 1)) % 10",
           breaks=("add_task",), says="without the carry"),
    # Least significant digit first.
    Mutant("add_task_digits_reversed", TASKS,
           "return sources, digits_of(a + b, num_digits + 1)",
           "return sources, digits_of(a + b, num_digits + 1)[:, ::-1]",
           breaks=("add_task",), says="most significant first"),
    # The query counted among the digits.
    Mutant("count_task_counts_the_query", TASKS,
           "counts = (sequences == queries[:, None]).sum(axis=1)\n",
           "counts = (sequences == queries[:, None]).sum(axis=1) + 1\n",
           breaks=("count_task",), says="not count itself"),
    # The backward RNN's outputs left in its reading order.
    Mutant("bidirectional_backward_not_flipped_back", ENCODERS,
           "[forward_outputs, ops.flip(backward_outputs, axis=1)]",
           "[forward_outputs, backward_outputs]",
           breaks=("bidirectional_matches_keras",), says="flip them back"),
    # Both RNNs read the source forwards.
    Mutant("bidirectional_backward_reads_forwards", ENCODERS,
           "backward_outputs, backward_state = backward(ops.flip(inputs, axis=1))",
           "backward_outputs, backward_state = backward(inputs)",
           breaks=("bidirectional_matches_keras",), says="read the source forwards"),
    # The backward half of the state taken from the aligned outputs' last position.
    Mutant("bidirectional_state_from_the_last_output", ENCODERS,
           "return outputs, ops.concatenate([forward_state, backward_state], axis=-1)",
           "return outputs, ops.concatenate([forward_state, outputs[:, -1, -ops.shape("
           "forward_state)[-1]:]], axis=-1)",
           breaks=("bidirectional_matches_keras",), says="final state"),
    # Each layer's state written backward half first.
    Mutant("stacked_states_backward_first", ENCODERS,
           "states.append(ops.concatenate([forward_state, backward_state], axis=-1))",
           "states.append(ops.concatenate([backward_state, forward_state], axis=-1))",
           breaks=("stacked_encoder",), says="swapped"),
    # Off by one: position `length` counted as real.
    Mutant("mask_off_by_one", ATTENTION,
           "return positions < ops.cast(lengths, positions.dtype)[:, None]",
           "return positions <= ops.cast(lengths, positions.dtype)[:, None]",
           breaks=("lengths_to_mask",), says="off by one|one position too many"),
    # The softmax over the decoder steps.
    Mutant("attention_softmax_over_the_wrong_axis", ATTENTION,
           "weights = ops.cast(ops.softmax(scores, axis=-1), keys.dtype)",
           "weights = ops.cast(ops.softmax(scores, axis=1), keys.dtype)",
           breaks=("additive_attention",), says="wrong axis"),
    # Scores kept with a trailing axis of 1: the softmax over it gives every position the
    # weight 1, and the context is the sum of the keys (no attention at all).
    Mutant("attention_softmax_over_a_singleton_axis", ATTENTION,
           "    scores = ops.cast(ops.tensordot(ops.tanh(projected_keys + projected_query), v, "
           "axes=1),\n                      \"float32\")\n"
           "    if mask is not None:\n"
           "        scores = ops.where(ops.cast(mask, \"bool\")[:, None, :], scores, -1e9)\n"
           "    weights = ops.cast(ops.softmax(scores, axis=-1), keys.dtype)\n",
           "    scores = ops.cast(ops.matmul(ops.tanh(projected_keys + projected_query), "
           "v[:, None]),\n"
           "                      \"float32\")\n"
           "    if mask is not None:\n"
           "        scores = ops.where(ops.cast(mask, \"bool\")[:, None, :, None], scores, -1e9)\n"
           "    weights = ops.cast(ops.softmax(scores, axis=-1)[..., 0], keys.dtype)\n",
           breaks=("attention_beats_no_attention", "additive_attention")),
    Mutant("attention_without_tanh", ATTENTION,
           "ops.tensordot(ops.tanh(projected_keys + projected_query), v, axes=1)",
           "ops.tensordot(projected_keys + projected_query, v, axes=1)",
           breaks=("additive_attention",), says="tanh"),
    Mutant("attention_ignores_the_mask", ATTENTION,
           "    if mask is not None:\n"
           "        scores = ops.where(ops.cast(mask, \"bool\")[:, None, :], scores, -1e9)\n",
           "",
           breaks=("additive_attention",), says="mask is ignored"),
    # Masked after the softmax: the weights no longer sum to one.
    Mutant("attention_masks_after_the_softmax", ATTENTION,
           "    if mask is not None:\n"
           "        scores = ops.where(ops.cast(mask, \"bool\")[:, None, :], scores, -1e9)\n"
           "    weights = ops.cast(ops.softmax(scores, axis=-1), keys.dtype)\n",
           "    weights = ops.softmax(scores, axis=-1)\n"
           "    if mask is not None:\n"
           "        weights = weights * ops.cast(mask, weights.dtype)[:, None, :]\n"
           "    weights = ops.cast(weights, keys.dtype)\n",
           breaks=("additive_attention",), says="after the softmax"),
    # END's log-probability left out of the finished hypothesis's score.
    Mutant("beam_forgets_the_end_token_score", BEAM,
           "finished.append((prefixes[parent] + [token], float(candidates[index])))",
           "finished.append((prefixes[parent] + [token], float(scores[parent])))",
           breaks=("beam_search_matches_exhaustive_search",), says="score"),
    # Finished hypotheses stay in the beam and keep being extended.
    Mutant("beam_extends_finished_hypotheses", BEAM,
           "            if token == end_token:\n",
           "            if token == end_token and len(prefixes[parent]) + 1 == max_length:\n",
           breaks=("beam_search_matches_exhaustive_search", "beam_search_narrow_beams")),
    # Each hypothesis keeps its own best extension: the width-1 search of beam_width beams.
    Mutant("beam_keeps_one_extension_per_hypothesis", BEAM,
           "        order = np.argsort(-candidates, kind=\"stable\")[:beam_width]\n",
           "        order = (np.argmax(scores[:, None] + log_probs, axis=1)\n"
           "                 + vocab * np.arange(len(scores)))[:beam_width]\n",
           breaks=("beam_search_matches_exhaustive_search", "beam_search_narrow_beams")),
    # Mean log-probability per token: length-normalised scores, another search.
    Mutant("beam_normalises_by_length", BEAM,
           "    best = max(range(len(finished)), key=lambda i: (finished[i][1], -i))",
           "    best = max(range(len(finished)),\n"
           "               key=lambda i: (finished[i][1] / len(finished[i][0]), -i))",
           breaks=("beam_search_matches_exhaustive_search",)),
]
