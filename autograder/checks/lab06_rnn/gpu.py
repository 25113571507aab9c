"""GPU checks of lab06_rnn (autograder/gpu.py): the character language model trained on the
student's windows of tiny_shakespeare, judged by its validation bits per character, and the
student's Seq2Seq (shift_right, train_step, greedy_decode) trained to reverse long digit
sequences, judged by its greedy-decoding accuracy; both against the reference's."""
import numpy as np

from autograder.checks.lab06_rnn.probes import CHAR_LM, SEQ2SEQ
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_at_most, expect_true

# tiny_shakespeare's 1.0 M training characters in windows of 100 every 50 (20 000 windows):
# 3 epochs in batches of 64, 940 Adam steps of a 64-512 GRU with a 65-way head, about
# 5 MFLOP per character read and trained, 30 GFLOP a step, 30 TFLOP in all; the GRU's 100
# sequential steps, not the FLOPs, set the pace (~0.1 s a step).
LM = {"seq_len": 100, "stride": 50, "embed_dim": 64, "units": 512, "batch": 64, "epochs": 3}
LM_MARGIN_BITS = 0.1   # over seeds the reference varies by a few hundredths of a bit
LM_CEILING_BITS = 3.0  # uniform: 6 bits, bigrams: about 3.6; this budget: about 2.4

# 2 000 Adam steps in batches of 256 of a 32-256 GRU encoder-decoder reversing 16 digits:
# about 1.3 MFLOP a token trained, 10 GFLOP a step, 20 TFLOP; again the recurrences set the
# pace. Greedy decoding of 2 000 held-out sequences takes 16 eager steps.
REVERSE = {"length": 16, "embed_dim": 32, "units": 256, "batch": 256, "steps": 2_000,
           "test_size": 2_000}
REVERSE_MARGIN = 0.05  # greedy token accuracy within 5 points of the reference's
REVERSE_FLOOR = 0.3    # chance: 0.1; a working model gets most tokens right


def bits_per_char(model, inputs, targets):
    logits = np.asarray(model.predict(inputs, batch_size=256, verbose=0), dtype=np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    nats = -np.take_along_axis(log_probs, targets[..., None], axis=-1).mean()
    return float(nats / np.log(2.0))


@gpu_check(points=3, minutes=2.5, datasets=("tiny_shakespeare",), uses=CHAR_LM,
           task="`next_char_examples`",
           hint="the language model trains on your next_char_examples windows: targets are "
                "the inputs moved one character ahead, window m starting at m * stride")
def char_lm_on_tiny_shakespeare(lab, rng):
    """A 512-unit GRU language model trained for 3 epochs on your windows of
    tiny_shakespeare (mixed precision, XLA): its validation bits per character come within
    0.1 of the reference's, below 3."""
    import keras
    char_lm = lab.char_lm
    train, valid = lab.gpu.text("tiny_shakespeare", "train"), lab.gpu.text("tiny_shakespeare",
                                                                            "validation")
    chars = sorted(set(train + valid))
    index = {c: i for i, c in enumerate(chars)}
    encode = lambda text: np.array([index[c] for c in text], dtype="int32")  # noqa: E731
    inputs, targets = char_lm.next_char_examples(encode(train), LM["seq_len"], LM["stride"])
    inputs, targets = np.asarray(inputs, "int32"), np.asarray(targets, "int32")
    # Validation: the reference's windows, not the student's (only training data is theirs).
    ids = encode(valid)
    starts = range(0, len(ids) - LM["seq_len"], LM["seq_len"])
    valid_inputs = np.stack([ids[s:s + LM["seq_len"]] for s in starts])
    valid_targets = np.stack([ids[s + 1:s + LM["seq_len"] + 1] for s in starts])
    # Under the smoke test a narrow GRU: float16 GRUs of 512 units cost seconds on a CPU.
    units = 16 if lab.gpu.smoke else LM["units"]
    model = char_lm.CharLanguageModel(len(chars), embed_dim=LM["embed_dim"], units=units)
    lab.gpu.compile(model, keras.optimizers.Adam(2e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    per_epoch = -(-len(inputs) // LM["batch"])
    steps = lab.gpu.steps(LM["epochs"] * per_epoch)
    order = rng.permutation(len(inputs))
    model.fit(inputs[order], targets[order], batch_size=LM["batch"],
              epochs=max(1, steps // per_epoch), steps_per_epoch=min(steps, per_epoch),
              verbose=0)
    return {"valid_bits": bits_per_char(model, valid_inputs, valid_targets),
            "windows": len(inputs), "vocab": len(chars), "smoke": lab.gpu.smoke}


@char_lm_on_tiny_shakespeare.verdict
def _(student, reference):
    expect_true(student["windows"] == reference["windows"],
                f"next_char_examples gave {student['windows']} windows of tiny_shakespeare, "
                f"the reference {reference['windows']}")
    what = (f"the validation cross-entropy on tiny_shakespeare (the reference reaches "
            f"{reference['valid_bits']:.3f} bits per character with the same training; "
            f"uniform guessing: {np.log2(reference['vocab']):.2f})")
    expect_at_most(student["valid_bits"], reference["valid_bits"] + LM_MARGIN_BITS, what,
                   unit=" bits/char")
    if not student["smoke"]:
        expect_at_most(student["valid_bits"], LM_CEILING_BITS, what, unit=" bits/char")


@gpu_check(points=3, minutes=2.0, uses=SEQ2SEQ,
           task="`shift_right`, `Seq2Seq.train_step`, `Seq2Seq.greedy_decode`",
           hint="teacher forcing feeds the decoder shift_right(targets); train_step scales the "
                "loss for mixed precision; greedy_decode feeds back each step's argmax")
def seq2seq_reverses_long_sequences(lab, rng):
    """A 256-unit Seq2Seq trained with your train_step for 2 000 steps to reverse 16 digits
    (mixed precision, XLA), then greedy-decoded on held-out sequences: its token accuracy
    comes within 5 points of the reference's, above 30 %."""
    import keras
    seq2seq = lab.seq2seq
    length, batch, units = REVERSE["length"], REVERSE["batch"], REVERSE["units"]
    if lab.gpu.smoke:  # float16 GRUs of 256 units on batches of 256 cost seconds on a CPU
        batch, units = 32, 16
    steps = lab.gpu.steps(REVERSE["steps"])
    sources, targets = seq2seq.make_reverse_task(steps * batch, length, rng)
    test_sources, test_targets = seq2seq.make_reverse_task(
        lab.gpu.examples(REVERSE["test_size"]), length, rng)
    model = seq2seq.Seq2Seq(embed_dim=REVERSE["embed_dim"], units=units)
    lab.gpu.compile(model, keras.optimizers.Adam(2e-3))
    model.fit(sources, targets, batch_size=batch, epochs=1, verbose=0)
    decoded = np.asarray(model.greedy_decode(test_sources, length))
    correct = decoded == test_targets
    return {"token_accuracy": float(correct.mean()),
            "sequence_accuracy": float(correct.all(axis=1).mean()), "smoke": lab.gpu.smoke}


@seq2seq_reverses_long_sequences.verdict
def _(student, reference):
    what = (f"the greedy-decoding token accuracy on held-out reversals of "
            f"{REVERSE['length']} digits (whole sequences right: "
            f"{student['sequence_accuracy']:.0%}; the reference: "
            f"{reference['token_accuracy']:.1%} of tokens, "
            f"{reference['sequence_accuracy']:.0%} of sequences)")
    expect_at_least(student["token_accuracy"], reference["token_accuracy"] - REVERSE_MARGIN,
                    what)
    if not student["smoke"]:
        expect_at_least(student["token_accuracy"], REVERSE_FLOOR, what)
