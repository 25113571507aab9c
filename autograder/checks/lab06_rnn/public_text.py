"""Public checks of lab06_rnn, part 3: the character-level language model and sampling
(char_lm.py).

Windows, the temperature softmax and inverse-CDF sampling are compared with the reference
on identical inputs (sampling on rows whose uniform falls exactly on a cumulative
probability too); generate, which calls softmax_with_temperature and sample_from_probs by name,
runs on stand-ins of known behaviour (not a softmax, not inverse-CDF sampling) with fixed
weights and uniforms; the training check trains the given model on the student's windows
and scores the rest of the text read as one sequence.
"""
from autograder.api import check
from autograder.checks.lab06_rnn.probes import CHAR_LM
from autograder.checks.lab06_rnn.probes_sequences import (
    char_lm_training_probe,
    examples_probe,
    generate_probe,
    judge_char_lm_training,
    judge_examples,
    judge_generate,
    judge_sampling,
    judge_softmax,
    sampling_probe,
    softmax_probe,
)

# The training budget of char_lm_trains, stated in the handout.
CHAR_LM_TRAIN = {"seq_len": 32, "stride": 8, "embed_dim": 16, "units": 64,
                 "learning_rate": 0.01, "batch_size": 32, "epochs": 2, "train_fraction": 0.9}
# Over ten seeds the reference's validation reaches 2.95 to 3.04 bits per character; targets
# equal to the inputs (no shift) leave the model predicting the character it reads, above 6
# bits.
CHAR_LM_MARGIN_BITS = 0.25


@check(points=1, uses=CHAR_LM, task="`next_char_examples`",
       hint="window m starts at m * stride; targets are the same slice moved one character "
            "ahead; keep only windows whose targets fit in the text")
def next_char_examples(lab, rng):
    """The windows of a 40-character text, 6 long, with the default stride and with
    stride 3 (the last window's targets end exactly at the end of the text)."""
    return examples_probe(lab, rng, length=40, seq_len=6, strides=(None, 3))


next_char_examples.verdict(judge_examples)


@check(points=1, uses=CHAR_LM, task="`softmax_with_temperature`",
       hint="softmax(logits / temperature) with each row's max subtracted before exp")
def softmax_with_temperature(lab, rng):
    """Probabilities at temperatures 1, 0.5 and 2, one logit at 1000 (which overflows exp
    unless each row's max is subtracted)."""
    return softmax_probe(lab, rng, batch=4, vocab=9, temperatures=(1.0, 0.5, 2.0))


softmax_with_temperature.verdict(judge_softmax)


@check(points=1, uses=CHAR_LM, task="`sample_from_probs`",
       hint="the smallest k whose cumulative probability probs[0] + ... + probs[k] is strictly "
            "greater than the uniform (np.cumsum, then count the entries <= u); V - 1 if none")
def sample_from_probs(lab, rng):
    """Inverse-CDF samples of 12 rows with given uniforms: random rows, a certain outcome,
    u = 0, and uniforms equal to a cumulative probability (ties)."""
    return sampling_probe(lab, rng, batch=12, vocab=7)


sample_from_probs.verdict(judge_sampling)


@check(points=2, uses=CHAR_LM, task="`generate`",
       hint="read the whole prompt first (model.step(prompt_ids)); then per step: call "
            "softmax_with_temperature and sample_from_probs (with uniforms[:, i]) by name, "
            "and feed the sample back with the state model.step returned")
def generate(lab, rng):
    """Ten characters after a 4-character prompt, from a model with fixed random weights
    and given uniforms, on the check's stand-in softmax and sampler (called by name),
    against the reference on the same stand-ins."""
    return generate_probe(lab, rng, batch=3, prompt_length=4, length=10, temperature=0.7,
                          units=8)


generate.verdict(judge_generate)


@check(points=3, uses=CHAR_LM, timeout=40, task="`next_char_examples`",
       hint="the language model trains on next_char_examples: the targets must be the inputs "
            "moved one character ahead")
def char_lm_trains(lab, rng):
    """The given language model, trained on your windows for the budget below, reaches the
    reference's validation bits per character plus at most 0.25."""
    return char_lm_training_probe(lab, rng, CHAR_LM_TRAIN)


@char_lm_trains.verdict
def _(student, reference):
    judge_char_lm_training(student, reference, CHAR_LM_MARGIN_BITS)
