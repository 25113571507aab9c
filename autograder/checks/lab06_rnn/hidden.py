"""Hidden checks of lab06_rnn: the cells on fresh (random) batch sizes, lengths and widths,
including a single step and a single unit; an LSTM's gradient norms through time; the
global norm, clipping, shifting, decoding, windows, temperatures, sampling (ties included)
and generation on fresh sizes and settings, on the same stand-ins as the public checks
(but the LSTM's gradient norms, run on this file's own unroll of the cell)."""
from autograder.api import check
from autograder.checks.lab06_rnn.probes import (
    BPTT,
    CELLS,
    CHAR_LM,
    SEQ2SEQ,
    as_state_list,
    cell_against_keras,
    clipping_probe,
    global_norm_probe,
    gradient_norms_probe,
    judge_cell,
    judge_clipping,
    judge_global_norm,
    judge_gradient_norms,
    judge_unroll,
    unroll_against_keras,
)
from autograder.checks.lab06_rnn.probes_sequences import (
    examples_probe,
    generate_probe,
    greedy_probe,
    judge_examples,
    judge_generate,
    judge_greedy,
    judge_sampling,
    judge_shift,
    judge_softmax,
    judge_train_step,
    sampling_probe,
    shift_probe,
    softmax_probe,
    train_step_probe,
)


def random_sizes(rng, longest=7):
    """batch, length, input_dim, units: fresh, and sometimes 1."""
    return dict(batch=int(rng.integers(1, 9)), length=int(rng.integers(1, longest + 1)),
                input_dim=int(rng.integers(1, 7)), units=int(rng.integers(1, 9)))


@check(points=1, uses=CELLS, reference=False,
       hint="no sizes may be hard-coded: the cell must work for any batch, width and units")
def rnn_cell_other_sizes(lab, rng):
    return cell_against_keras(lab, rng, "VanillaRNNCell", **random_sizes(rng))


rnn_cell_other_sizes.verdict(lambda student, _: judge_cell(student, "VanillaRNNCell"))


@check(points=1, uses=CELLS, reference=False,
       hint="split the pre-activations in 4 equal blocks of `units` on the last axis, i, f, c, o")
def lstm_cell_other_sizes(lab, rng):
    return cell_against_keras(lab, rng, "LSTMCell", **random_sizes(rng))


lstm_cell_other_sizes.verdict(lambda student, _: judge_cell(student, "LSTMCell"))


@check(points=1, uses=CELLS, reference=False,
       hint="split in 3 blocks z, r, h; bias row 0 with the inputs, row 1 with the state")
def gru_cell_other_sizes(lab, rng):
    return cell_against_keras(lab, rng, "GRUCell", **random_sizes(rng))


gru_cell_other_sizes.verdict(lambda student, _: judge_cell(student, "GRUCell"))


@check(points=1, uses=BPTT, reference=False,
       hint="T comes from the inputs (inputs.shape[1]); any cell, any number of states")
def unroll_other_sizes(lab, rng):
    sizes = random_sizes(rng)
    sizes["units"] = max(sizes["units"], 2)
    return unroll_against_keras(lab, rng, **sizes)


unroll_other_sizes.verdict(lambda student, _: judge_unroll(student))


def _cell_unroll(cell, inputs, states):
    """unroll for the hidden LSTM check: the cell run step by step."""
    outputs, states = [], as_state_list(states)
    for t in range(int(inputs.shape[1])):
        output, states = cell(inputs[:, t, :], states)
        states = as_state_list(states)
        outputs.append(output)
    return outputs, states


@check(points=1, uses=BPTT,
       hint="the same for an LSTM: states [h0, c0], the gradient of sum(h_T) w.r.t. each h_t")
def lstm_state_gradient_norms(lab, rng):
    return gradient_norms_probe(lab, rng, batch=3, length=9, input_dim=2, units=5,
                                unroll=_cell_unroll, kind="LSTMCell", recurrent_scale=1.0)


@lstm_state_gradient_norms.verdict
def _(student, reference):
    judge_gradient_norms(student, reference, vanishing=False)


@check(points=1, uses=BPTT, reference=False,
       hint="one factor for all tensors; unchanged when the global norm is below max_norm; "
            "the global norm over every entry of every tensor")
def clip_by_global_norm_other_shapes(lab, rng):
    shapes = [tuple(int(d) for d in rng.integers(1, 5, size=int(rng.integers(0, 4))))
              for _ in range(int(rng.integers(1, 6)))]
    return {"norm": global_norm_probe(lab, rng, shapes),
            "clip": clipping_probe(lab, rng, shapes,
                                   max_norms=(float(rng.uniform(0.1, 1.0)), 1e4))}


@clip_by_global_norm_other_shapes.verdict
def _(student, _reference):
    judge_global_norm(student["norm"])
    judge_clipping(student["clip"])


@check(points=1, uses=SEQ2SEQ, hint="any batch size, any length, the start_token given")
def shift_right_other_sizes(lab, rng):
    return shift_probe(lab, rng, batch=int(rng.integers(1, 9)), length=int(rng.integers(1, 9)),
                       start_token=int(rng.integers(10, 20)))


shift_right_other_sizes.verdict(judge_shift)


@check(points=1, uses=SEQ2SEQ, hint="train_step must not depend on the batch size or length")
def seq2seq_train_step_other_sizes(lab, rng):
    return train_step_probe(lab, rng, batch=int(rng.integers(2, 9)),
                            length=int(rng.integers(2, 7)), units=int(rng.integers(3, 9)))


seq2seq_train_step_other_sizes.verdict(judge_train_step)


@check(points=1, uses=SEQ2SEQ, hint="the output length is the `length` argument, not the "
                                    "source length")
def greedy_decode_other_lengths(lab, rng):
    return greedy_probe(lab, rng, batch=int(rng.integers(1, 8)),
                        source_length=int(rng.integers(2, 7)),
                        lengths=(int(rng.integers(1, 9)), 1), units=int(rng.integers(3, 9)))


greedy_decode_other_lengths.verdict(judge_greedy)


@check(points=1, uses=CHAR_LM, hint="windows start at 0, stride, 2 * stride, ...; the last "
                                    "window's targets end at most at the end of the text")
def next_char_examples_other_strides(lab, rng):
    seq_len = int(rng.integers(2, 9))
    return examples_probe(lab, rng, length=int(rng.integers(seq_len + 2, 60)), seq_len=seq_len,
                          strides=(int(rng.integers(1, 5)), seq_len + 1))


next_char_examples_other_strides.verdict(judge_examples)


@check(points=1, uses=CHAR_LM, hint="divide by the temperature; very low temperatures must "
                                    "not overflow (subtract the row max after dividing)")
def softmax_other_temperatures(lab, rng):
    return softmax_probe(lab, rng, batch=int(rng.integers(1, 6)), vocab=int(rng.integers(2, 30)),
                         temperatures=(float(rng.uniform(0.05, 0.3)), float(rng.uniform(1.5, 5))))


softmax_other_temperatures.verdict(judge_softmax)


@check(points=1, uses=CHAR_LM, hint="inverse-CDF sampling for any number of rows and categories")
def sample_from_probs_other_sizes(lab, rng):
    return sampling_probe(lab, rng, batch=int(rng.integers(6, 40)),
                          vocab=int(rng.integers(4, 50)))


sample_from_probs_other_sizes.verdict(judge_sampling)


@check(points=1, uses=CHAR_LM, hint="a prompt of one character, another temperature: the "
                                    "same loop")
def generate_other_settings(lab, rng):
    return generate_probe(lab, rng, batch=int(rng.integers(1, 5)), prompt_length=1,
                          length=int(rng.integers(3, 12)),
                          temperature=float(rng.uniform(0.3, 2.0)), units=int(rng.integers(3, 9)))


generate_other_settings.verdict(judge_generate)
