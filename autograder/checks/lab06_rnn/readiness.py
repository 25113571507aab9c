"""GPU-readiness checks of lab06_rnn: they run on a CPU too (see autograder/readiness.py).
They judge the student's Seq2Seq.train_step (teacher forcing, float32 loss, loss scaling)
under XLA, the mixed_float16 policy and batches of varying size, on the check's own
shift_right (shift_right has a check of its own). The tracing check also asks that the
steps moved the weights: a train_step that never applies its gradients earns nothing."""
import functools

from autograder import readiness
from autograder.api import check
from autograder.check_helpers import largest_change, snapshot
from autograder.checks.lab06_rnn.probes import SEQ2SEQ, correct_shift, explained_none_step
from autograder.verdicts import expect_true

TASK = "`Seq2Seq.train_step`"


def _build(lab):
    return lambda: lab.seq2seq.Seq2Seq(embed_dim=8, units=16)


def _reversal(rng, n=64):
    sources = rng.integers(0, 10, size=(n, 4)).astype("int32")
    return sources, sources[:, ::-1].copy()


def _on_correct_shift(chk):
    """The check, its probe run with the check's own shift_right."""
    probe = chk.probe

    @functools.wraps(probe)
    def wrapped(lab, rng):
        with correct_shift(lab), explained_none_step():
            return probe(lab, rng)
    chk.probe = wrapped
    return chk


# The engine's XLA and mixed-precision checks; the tracing check is this file's own.
seq2seq_trains_with_xla, seq2seq_trains_in_mixed_precision = (
    _on_correct_shift(chk) for chk in readiness.checks_for(
        __name__, "seq2seq", build=_build, data=_reversal, uses=SEQ2SEQ, task=TASK)[:2])


@check(points=1, reference=False, uses=SEQ2SEQ, task=TASK,
       hint="build the START column with tf.shape(targets)[0], not targets.shape[0]: the last "
            "batch is smaller; and apply the gradients (self.optimizer.apply)")
def seq2seq_train_step_traces_at_most_twice(lab, rng):
    """GPU readiness: `fit` over three batch sizes traces `train_step` at most twice, and
    the steps move the weights."""
    sources, targets = _reversal(rng)
    models = []

    def build():
        model = lab.seq2seq.Seq2Seq(embed_dim=8, units=16)
        model((sources[:2], targets[:2]))   # weights now, so that a change can be measured
        models.append((model, snapshot(model.trainable_variables)))
        return model
    with correct_shift(lab), explained_none_step():
        # Three sizes suffice: a step that depends on the batch size traces three times.
        result = readiness.traces_over_batch_sizes(build, readiness.compile_with_adam,
                                                   (sources, targets), sizes=(32, 20, 5))
    model, before = models[0]
    result["weights_moved"] = largest_change(before, model.trainable_variables)
    return result


@seq2seq_train_step_traces_at_most_twice.verdict
def _(student, _reference):
    readiness.judge_traces(student)
    expect_true(student["weights_moved"] > 0, "fit ran train_step on several batches and no "
                "weight changed: train_step must apply the gradients (self.optimizer.apply)")
