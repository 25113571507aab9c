"""Public checks of lab06_rnn, part 2: the seq2seq reverser (seq2seq.py).

shift_right is checked on arrays and inside a tf.function, as train_step calls it. train_step
calls shift_right by name, and its checks replace it with stand-ins: one step, traced as fit
traces it, on a shift_right that returns the targets reversed, must log the loss and
accuracy of the decoder reading that and land on the reference's weights; the training
check trains on a shift_right that puts START at every position and measures the held-out
accuracy of the model's argmax on START inputs (no decoding loop), so only train_step
decides it. Greedy decoding is compared with the reference's on a model with fixed
weights.
"""
from autograder.api import check
from autograder.checks.lab06_rnn.probes import SEQ2SEQ
from autograder.checks.lab06_rnn.probes_sequences import (
    greedy_probe,
    judge_greedy,
    judge_seq2seq_training,
    judge_shift,
    judge_train_step,
    seq2seq_training_probe,
    shift_probe,
    train_step_probe,
)

# The training budget of seq2seq_learns_to_reverse, stated in the handout.
SEQ2SEQ_TRAIN = {"length": 4, "train_size": 2048, "test_size": 500, "embed_dim": 16,
                 "units": 64, "learning_rate": 0.03, "batch_size": 64, "epochs": 1}
# One epoch: tracing train_step, not its 32 steps, is most of the check's time. Over ten seeds
# the reference gets 54 to 62 % of the held-out tokens right; a decoder that reads the token
# it must predict learns nothing it can use at test time and stays near 10 %.
SEQ2SEQ_MARGIN = 0.12


@check(points=1, uses=SEQ2SEQ, task="`shift_right`",
       hint="[start_token, targets[:, 0], ..., targets[:, T-2]] per row: tf.concat of a start "
            "column (tf.fill with tf.shape(targets)[0]) and targets[:, :-1], TensorFlow ops only")
def shift_right(lab, rng):
    """The teacher-forcing inputs of 5 sequences of 6 targets, on arrays and inside a
    `tf.function` on tensors of unknown batch size (as `train_step` calls it under `fit`)."""
    return shift_probe(lab, rng, batch=5, length=6, start_token=10)


shift_right.verdict(judge_shift)


@check(points=2, uses=SEQ2SEQ, task="`Seq2Seq.train_step`",
       hint="decoder inputs = shift_right(targets); logits = self((source, decoder_inputs), "
            "training=True) inside the tape; loss = sequence_loss(targets, logits); scale_loss; "
            "gradients of every trainable variable; optimizer.apply; TensorFlow ops only")
def seq2seq_train_step(lab, rng):
    """One SGD step from fixed weights, traced as `fit` traces it, on a stand-in
    `shift_right` that returns the targets reversed: it logs the loss and accuracy of the
    decoder reading what `shift_right` returned and lands on the reference's weights."""
    return train_step_probe(lab, rng, batch=6, length=4, units=8)


seq2seq_train_step.verdict(judge_train_step)


@check(points=2, uses=SEQ2SEQ, task="`Seq2Seq.greedy_decode`",
       hint="start from encode(source) and a (N, 1) column of START; each step decode the "
            "previous prediction (the argmax, int32) from the state the last step returned")
def greedy_decode(lab, rng):
    """Greedy decoding of 6 sources, 5 and 2 tokens long, by a Seq2Seq with fixed random
    weights, against the reference's."""
    return greedy_probe(lab, rng, batch=6, source_length=5, lengths=(5, 2), units=8)


greedy_decode.verdict(judge_greedy)


@check(points=3, uses=SEQ2SEQ, timeout=40, task="`Seq2Seq.train_step`",
       hint="train_step must train the model: decoder inputs shift_right(targets, "
            "self.start_token), loss against targets, gradients applied to every trainable "
            "variable")
def seq2seq_learns_to_reverse(lab, rng):
    """Trained with `fit` for the budget below on a stand-in `shift_right` that puts START
    at every position, the model reverses held-out sequences (its decoder reading START)
    within 12 points of the reference's token accuracy."""
    return seq2seq_training_probe(lab, rng, SEQ2SEQ_TRAIN)


@seq2seq_learns_to_reverse.verdict
def _(student, reference):
    judge_seq2seq_training(student, reference, SEQ2SEQ_MARGIN)
