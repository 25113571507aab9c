"""GPU check of lab06b_attention (autograder/gpu.py): the attention seq2seq (the student's
additive_attention and lengths_to_mask inside the given model) trained to reverse long
digit sequences, some of them padded, judged by its greedy-decoding accuracy against the
reference's."""
import numpy as np

from autograder.checks.lab06b_attention.probes import ATTENTION
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# 3 000 Adam steps in batches of 256 of a 32-128 bidirectional GRU encoder, a 128-unit GRU
# decoder and 128-unit additive attention, reversing 24 digits: about 2.4 MFLOP a token
# trained (the recurrences and the (T, S, A) score tensor), 30 GFLOP a step, 90 TFLOP; the
# recurrences' 48 sequential steps set the pace (~0.04 s a step). Greedy decoding of
# 2 000 held-out sequences takes 24 eager steps.
REVERSE = {"length": 24, "embed_dim": 32, "units": 128, "batch": 256, "steps": 3_000,
           "test_size": 2_000}
MARGIN = 0.05   # greedy token accuracy within 5 points of the reference's
FLOOR = 0.5     # chance: 0.1; without attention a 128-unit GRU forgets most of 24 digits


def padded_reversal(rng, n, length, pad, end):
    """Sources of 3/4 to all of `length` digits padded with `pad`; targets: the digits
    reversed, then `end`, then `pad` up to length + 1."""
    lengths = rng.integers(3 * length // 4, length + 1, size=n)
    digits = rng.integers(0, 10, size=(n, length))
    sources = np.full((n, length), pad, "int32")
    targets = np.full((n, length + 1), pad, "int32")
    for row, size in enumerate(lengths):
        sources[row, :size] = digits[row, :size]
        targets[row, :size] = digits[row, :size][::-1]
        targets[row, size] = end
    return sources, targets


@gpu_check(points=3, minutes=2.0, uses=ATTENTION,
           task="`additive_attention`, `lengths_to_mask`",
           hint="the scores, the mask of the real source positions and the softmax over them "
                "decide how well the model reverses long sequences; compute the softmax in "
                "float32 under mixed precision")
def attention_reverses_long_sequences(lab, rng):
    """The attention seq2seq (128 units) trained for 3 000 steps to reverse 18 to 24 digits
    padded to 24 (mixed precision, XLA), then greedy-decoded on held-out sequences: its
    token accuracy comes within 5 points of the reference's, above 50 %."""
    import keras
    attention = lab.attention
    length, batch, units = REVERSE["length"], REVERSE["batch"], REVERSE["units"]
    if lab.gpu.smoke:   # float16 GRUs of 128 units on batches of 256 cost seconds on a CPU
        batch, units = 32, 16
    steps = lab.gpu.steps(REVERSE["steps"])
    sources, targets = padded_reversal(rng, steps * batch, length, attention.PAD,
                                       attention.END)
    test_sources, test_targets = padded_reversal(rng, lab.gpu.examples(REVERSE["test_size"]),
                                                 length, attention.PAD, attention.END)
    model = attention.AttentionSeq2Seq(embed_dim=REVERSE["embed_dim"], units=units,
                                       attention_units=units)
    lab.gpu.compile(model, keras.optimizers.Adam(2e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit((sources, attention.teacher_forcing_inputs(targets)), targets, batch_size=batch,
              epochs=1, verbose=0)
    decoded = model.greedy_decode(test_sources, length + 1)
    real = test_targets != attention.PAD   # the digits and END, not the padding after them
    correct = (decoded == test_targets) & real
    return {"token_accuracy": float(correct.sum() / real.sum()),
            "sequence_accuracy": float((correct | ~real).all(axis=1).mean()),
            "smoke": lab.gpu.smoke}


@attention_reverses_long_sequences.verdict
def _(student, reference):
    what = (f"the greedy-decoding token accuracy on held-out reversals of up to "
            f"{REVERSE['length']} digits (whole sequences right: "
            f"{student['sequence_accuracy']:.0%}; the reference: "
            f"{reference['token_accuracy']:.1%} of tokens, "
            f"{reference['sequence_accuracy']:.0%} of sequences)")
    expect_at_least(student["token_accuracy"], reference["token_accuracy"] - MARGIN, what)
    if not student["smoke"]:
        expect_at_least(student["token_accuracy"], FLOOR, what)
