"""Probes and verdicts that the seq2seq and language-model checks of lab06_rnn share (public
and hidden): the teacher-forcing shift, one train_step, greedy decoding, the training
probes, windows, the temperature softmax, sampling and generation. The shift_right
stand-ins come from probes.py; generate's stand-ins for the softmax and the sampler are
here."""
from __future__ import annotations

import re

import numpy as np
from scipy.special import log_softmax, softmax

from autograder.api import CheckFailed
from autograder.check_helpers import assign_random_weights, build_for_fit, standing_in
from autograder.checks.lab06_rnn.probes import (
    on_stand_in_shift,
    reversed_targets,
)
from autograder.verdicts import (
    as_array,
    expect_at_least,
    expect_at_most,
    expect_close,
    expect_equal,
    expect_true,
)

# ---- Sequence to sequence ------------------------------------------------------------------


def shift_probe(lab, rng, batch, length, start_token):
    """shift_right on arrays, and inside a tf.function on tensors of unknown batch size (the
    last batch is smaller), as train_step calls it under fit."""
    import tensorflow as tf
    targets = rng.integers(0, 10, size=(batch, length)).astype("int32")
    shift = lab.seq2seq.shift_right
    out = {"targets": targets, "start_token": start_token,
           "shifted": shift(targets, start_token), "traced_error": ""}
    traced = tf.function(lambda t: shift(t, start_token),
                         input_signature=[tf.TensorSpec([None, length], tf.int32)])
    try:
        out["traced"] = traced(tf.constant(targets))
    except Exception as error:  # numpy on a symbolic tensor, Python on an unknown shape...
        out["traced_error"] = traced_error(error, "seq2seq.py")
    return out


def traced_error(error, file):
    """`seq2seq.py:36 in shift_right: NotImplementedError: Cannot convert ...`: where in the
    student's `file` a tf.function failed, and TensorFlow's own last line of the error."""
    text = str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    frames = re.findall(r'File "[^"]*' + re.escape(file) + r'", line (\d+), in (\w+)', text)
    where = f"{file}:{frames[-1][0]} in {frames[-1][1]}: " if frames else ""
    last = lines[-1] if lines else ""
    if not last.startswith(type(error).__name__):
        last = f"{type(error).__name__}: {last}"
    return f"{where}{last.split('. ')[0]}"[:300]


def judge_shift(student, reference):
    call = (f"shift_right(targets {np.shape(reference['targets'])}, "
            f"start_token={reference['start_token']})")
    shifted, targets = as_array(student["shifted"], call), np.asarray(student["targets"])
    if shifted.shape == targets.shape and targets.shape[1] > 1:
        if np.array_equal(shifted, targets):
            raise CheckFailed(f"{call} returned the targets themselves: the decoder would read "
                              "the token it must predict")
        if np.array_equal(shifted[:, :-1], targets[:, 1:]):
            raise CheckFailed(f"{call} shifts the wrong way: at step t the decoder must read "
                              "target t - 1 (the past), not target t + 1 (the future)")
    expect_equal(shifted, reference["shifted"], call)
    if student["traced_error"]:
        raise CheckFailed(f"{call} works on arrays but fails inside a tf.function, on "
                          "tensors of unknown batch size, as train_step calls it under fit: "
                          f"{student['traced_error']}. Use TensorFlow ops only (tf.concat, "
                          "tf.fill with tf.shape(targets)[0]), no numpy")
    expect_equal(student["traced"], reference["shifted"], f"{call} inside a tf.function")


def train_step_probe(lab, rng, batch, length, units):
    """One train_step with SGD on fixed weights, run by fit (traced, as in training), on the
    stand-in shift_right that returns the targets reversed: the logs and the weights after,
    and the logits before of the decoder reading what that stand-in returns."""
    import keras
    seq2seq = lab.seq2seq
    sources, targets = seq2seq.make_reverse_task(batch, length, rng)
    model = seq2seq.Seq2Seq(embed_dim=4, units=units)
    teacher = np.asarray(reversed_targets(targets, seq2seq.START_TOKEN))
    model((sources, teacher))
    assign_random_weights(model, rng, scale=0.4)
    logits = model((sources, teacher))
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.optimizer.build(model.trainable_variables)
    with on_stand_in_shift(lab, reversed_targets):
        history = model.fit(sources, targets, batch_size=batch, epochs=1, shuffle=False,
                            verbose=0).history
    logs = {name: float(values[-1]) for name, values in history.items()}
    weights = np.concatenate([np.ravel(v.numpy()) for v in model.trainable_variables])
    return {"logged": sorted(logs), "loss": logs.get("loss", np.nan),
            "accuracy": logs.get("accuracy", np.nan), "logits": logits, "targets": targets,
            "weights": weights,
            "call": f"Seq2Seq(units={units}).train_step((sources, targets)) on {batch} "
                    f"sequences of {length} digits"}


def judge_train_step(student, reference):
    call = student["call"]
    expect_true(student["logged"] == ["accuracy", "loss"],
                f"fit logged {student['logged']} for one {call}, expected ['accuracy', "
                "'loss']: return self.update_trackers(targets, logits, loss)")
    logits = np.asarray(student["logits"], dtype=np.float64)
    targets = np.asarray(student["targets"])
    picked = np.take_along_axis(log_softmax(logits, axis=-1), targets[..., None], axis=-1)
    expected = float(-picked.mean())
    loss = float(student["loss"])
    if not np.isclose(loss, expected, rtol=1e-4, atol=1e-5):
        raise CheckFailed(f"{call} logged the loss {loss:.5g}, but the teacher-forced loss of "
                          f"the model is {expected:.5g}: the decoder must read "
                          "shift_right(targets, self.start_token) (here the check's stand-in, "
                          "which returns the targets reversed), the loss compare its logits "
                          "with the targets, and train_step log that loss (not the scaled "
                          "one)")
    accuracy = float(np.mean(logits.argmax(axis=-1) == targets))
    expect_true(np.isclose(student["accuracy"], accuracy, atol=1e-6),
                f"{call} logged the accuracy {student['accuracy']:.4g}, but the teacher-forced "
                f"token accuracy of the model is {accuracy:.4g}")
    expect_close(student["weights"], reference["weights"],
                 f"the weights after one SGD step of {call} (same starting weights as the "
                 "reference)", rtol=1e-3, atol=1e-5)


def greedy_probe(lab, rng, batch, source_length, lengths, units):
    seq2seq = lab.seq2seq
    sources, _ = seq2seq.make_reverse_task(batch, source_length, rng)
    model = seq2seq.Seq2Seq(embed_dim=4, units=units)
    model((sources, sources))
    assign_random_weights(model, rng, scale=1.0)
    return {"decoded": [model.greedy_decode(sources, n) for n in lengths],
            "lengths": list(lengths), "shape": [batch, source_length]}


def judge_greedy(student, reference):
    for n, decoded, expected in zip(reference["lengths"], student["decoded"],
                                    reference["decoded"]):
        expect_equal(decoded, expected, f"greedy_decode(sources {tuple(reference['shape'])}, "
                     f"length={n}) of a Seq2Seq with fixed random weights")


def seq2seq_training_probe(lab, rng, budget):
    """Train with the student's train_step for `budget`, on the stand-in shift_right that
    feeds the decoder START at every position; the held-out accuracy of the trained model's
    argmax, its decoder reading START tokens (what it was trained on: no decoding loop)."""
    import keras
    seq2seq = lab.seq2seq
    length = budget["length"]
    sources, targets = seq2seq.make_reverse_task(budget["train_size"], length, rng)
    test_sources, test_targets = seq2seq.make_reverse_task(budget["test_size"], length, rng)
    model = seq2seq.Seq2Seq(embed_dim=budget["embed_dim"], units=budget["units"])
    # One step per execution: for one epoch, tracing fit's loop over the steps costs more
    # than it saves.
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    build_for_fit(model, (sources[:1, :1], targets[:1, :1]))
    with on_stand_in_shift(lab):
        history = model.fit(sources, targets, batch_size=budget["batch_size"],
                            epochs=budget["epochs"], verbose=0).history
    starts = np.full(test_targets.shape, seq2seq.START_TOKEN, "int32")
    predicted = np.argmax(np.asarray(model((test_sources, starts))), axis=-1)
    correct = predicted == test_targets
    return {"logged": sorted(history), "token_accuracy": float(correct.mean()),
            "sequence_accuracy": float(correct.all(axis=1).mean())}


def judge_seq2seq_training(student, reference, margin):
    expect_true(student["logged"] == ["accuracy", "loss"],
                f"fit() logged {student['logged']}; train_step must return the trackers' "
                "results, ['accuracy', 'loss']")
    what = (f"the held-out token accuracy after training on the stand-in shift_right (START "
            f"at every position), the decoder reading START tokens (whole sequences "
            f"right: {student['sequence_accuracy']:.0%}; the reference: "
            f"{reference['token_accuracy']:.1%} of tokens, "
            f"{reference['sequence_accuracy']:.0%} of sequences)")
    expect_at_least(student["token_accuracy"], reference["token_accuracy"] - margin, what)


# ---- The character-level language model ----------------------------------------------------

def examples_probe(lab, rng, length, seq_len, strides):
    ids = rng.integers(0, 40, size=length).astype("int32")
    out = {"ids": ids, "seq_len": seq_len, "strides": list(strides), "windows": []}
    for stride in strides:
        inputs, targets = lab.char_lm.next_char_examples(ids, seq_len, stride)
        out["windows"].append({"inputs": np.asarray(inputs), "targets": np.asarray(targets)})
    return out


def judge_examples(student, reference):
    for stride, windows, expected in zip(reference["strides"], student["windows"],
                                         reference["windows"]):
        call = (f"next_char_examples(ids ({len(reference['ids'])},), seq_len="
                f"{reference['seq_len']}, stride={stride})")
        inputs, targets = np.asarray(windows["inputs"]), np.asarray(windows["targets"])
        if inputs.shape == targets.shape and inputs.size and np.array_equal(inputs, targets):
            raise CheckFailed(f"{call} returns targets equal to the inputs: the model would "
                              "learn to copy its input, not to predict the next character")
        expect_equal(inputs, expected["inputs"], f"the array of inputs of {call}")
        expect_equal(targets, expected["targets"], f"the array of targets of {call}")


def softmax_probe(lab, rng, batch, vocab, temperatures):
    logits = (3.0 * rng.normal(size=(batch, vocab))).astype("float32")
    logits[0, 0] = 1000.0   # exp(1000) overflows unless the row's max is subtracted
    return {"logits": logits, "temperatures": list(temperatures),
            "probs": [lab.char_lm.softmax_with_temperature(logits, t) for t in temperatures]}


def judge_softmax(student, reference):
    logits = np.asarray(reference["logits"], dtype=np.float64)
    for t, probs, expected in zip(reference["temperatures"], student["probs"],
                                  reference["probs"]):
        call = f"softmax_with_temperature(logits {logits.shape}, temperature={t})"
        probs = as_array(probs, call).astype(np.float64)
        if t != 1 and probs.shape == logits.shape and np.all(np.isfinite(probs)) \
                and np.allclose(probs, softmax(logits * t, axis=-1), atol=1e-5):
            raise CheckFailed(f"{call} multiplies the logits by the temperature: divide them "
                              "(a high temperature must flatten the distribution)")
        expect_close(probs.astype("float32"), expected, call, atol=1e-6)


# Rows whose uniform falls exactly on a cumulative probability (dyadic numbers: exact in
# float32 and float64), padded with zeros at the end, and one whose probabilities sum to
# less than its uniform, padded at the front (V - 1, its last category, is the answer).
TIES = [([0.0, 0.5, 0.25, 0.25], 0.0),     # p_0 = 0 and u = 0: category 0 is never drawn
        ([0.25, 0.25, 0.5, 0.0], 0.25),    # u = p_0: the next category
        ([0.5, 0.0, 0.5, 0.0], 0.5),       # u = p_0 and p_1 = 0: category 2
        ([0.25, 0.25, 0.25, 0.2499], 0.99995)]   # no cumulative sum exceeds u: V - 1


def sampling_probe(lab, rng, batch, vocab):
    """Inverse-CDF samples for random rows, a certain outcome, u = 0, and the TIES rows."""
    probs = rng.dirichlet(np.full(vocab, 0.7), size=batch).astype("float32")
    uniforms = rng.random(batch).astype("float32")
    probs[0] = np.eye(vocab, dtype="float32")[vocab // 2]   # a certain outcome
    uniforms[1] = 0.0
    for row, (tie, u) in enumerate(TIES, start=2):
        pad = (vocab - len(tie), 0) if row == 1 + len(TIES) else (0, vocab - len(tie))
        probs[row] = np.pad(tie, pad)
        uniforms[row] = u
    return {"uniforms": uniforms, "vocab": vocab, "probs": probs,
            "sampled": lab.char_lm.sample_from_probs(probs, uniforms)}


def judge_sampling(student, reference):
    call = f"sample_from_probs(probs ({len(reference['uniforms'])}, {reference['vocab']}), " \
           "uniforms)"
    sampled = np.ravel(as_array(student["sampled"], call)).astype(np.int64)
    expected = np.asarray(reference["sampled"], dtype=np.int64)
    if sampled.shape == expected.shape:
        for row in range(2, 2 + len(TIES)):
            if sampled[row] != expected[row]:
                probs = np.round(np.asarray(reference["probs"][row], np.float64), 4).tolist()
                raise CheckFailed(
                    f"{call}: row {row} (probs {probs}, u = {reference['uniforms'][row]:.5g}) "
                    f"gave {sampled[row]}, expected {expected[row]}: take the smallest k whose "
                    "cumulative probability is strictly greater than u (a category of "
                    "probability 0 is never drawn), and V - 1 when rounding leaves none")
    expect_equal(sampled, expected, call)


def stand_in_softmax(logits, temperature):
    """The stand-in for softmax_with_temperature in generate's checks: NOT a softmax, but
    probabilities proportional to 1 + (logits / temperature)^2."""
    weights = 1.0 + np.square(np.asarray(logits, np.float64) / temperature)
    return (weights / np.sum(weights, axis=-1, keepdims=True)).astype("float32")


def stand_in_sampler(probs, uniforms):
    """The stand-in for sample_from_probs in generate's checks: NOT inverse-CDF sampling,
    but (the number of categories whose probability is at least u times the row's largest)
    minus 1."""
    probs = np.asarray(probs, np.float64)
    threshold = np.asarray(uniforms, np.float64).reshape(-1, 1) * probs.max(axis=-1,
                                                                              keepdims=True)
    return ((probs >= threshold).sum(axis=-1) - 1).astype("int32")


def generate_probe(lab, rng, batch, prompt_length, length, temperature, units):
    """generate with fixed weights and uniforms, on the stand-in softmax and sampler."""
    char_lm = lab.char_lm
    model = char_lm.CharLanguageModel(12, embed_dim=4, units=units)
    prompt = rng.integers(0, 12, size=(batch, prompt_length)).astype("int32")
    model(prompt)
    assign_random_weights(model, rng, scale=0.8)
    uniforms = rng.random((batch, length)).astype("float32")
    with standing_in(char_lm, softmax_with_temperature=stand_in_softmax,
                     sample_from_probs=stand_in_sampler):
        sampled = char_lm.generate(model, prompt, length, temperature, uniforms)
    return {"sampled": sampled,
            "call": f"generate(model, prompt ({batch}, {prompt_length}), length={length}, "
                    f"temperature={temperature}, uniforms)"}


def judge_generate(student, reference):
    expect_equal(student["sampled"], reference["sampled"],
                 f"{reference['call']} of a model with fixed random weights, on the check's "
                 "stand-in softmax_with_temperature and sample_from_probs (called by name)")


def char_lm_training_probe(lab, rng, budget):
    import keras
    char_lm = lab.char_lm
    text = char_lm.load_corpus()
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text], dtype="int32")
    split = int(budget["train_fraction"] * len(ids))
    seq_len = budget["seq_len"]
    inputs, targets = char_lm.next_char_examples(ids[:split], seq_len, budget["stride"])
    # Validation: the rest of the text read as one sequence, each character predicting the
    # next (no windows: only the student's training data is theirs).
    valid_inputs, valid_targets = ids[None, split:-1], ids[None, split + 1:]
    model = char_lm.CharLanguageModel(len(chars), embed_dim=budget["embed_dim"],
                                      units=budget["units"])
    steps = -(-len(inputs) // budget["batch_size"])
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=steps)
    build_for_fit(model, valid_inputs[:, :1])
    order = rng.permutation(len(inputs))
    model.fit(np.asarray(inputs)[order], np.asarray(targets)[order],
              batch_size=budget["batch_size"], epochs=budget["epochs"], verbose=0)
    # predict traces the recurrence once; called eagerly, the GRU steps through the
    # validation text's characters one Python iteration at a time (seconds).
    logits = model.predict(valid_inputs, verbose=0)
    log_probs = log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    nats = -np.take_along_axis(log_probs, valid_targets[..., None], axis=-1).mean()
    return {"valid_bits": float(nats / np.log(2.0)), "vocab": len(chars),
            "windows": len(inputs)}


def judge_char_lm_training(student, reference, margin):
    expect_true(student["windows"] == reference["windows"],
                f"next_char_examples gave {student['windows']} training windows, the reference "
                f"{reference['windows']}")
    expect_at_most(student["valid_bits"], reference["valid_bits"] + margin,
                   f"the validation cross-entropy after training (the reference: "
                   f"{reference['valid_bits']:.3f} bits per character; uniform guessing: "
                   f"{np.log2(reference['vocab']):.2f})", unit=" bits/char")
