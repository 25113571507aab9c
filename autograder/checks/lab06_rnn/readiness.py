"""GPU-readiness checks of lab06_rnn: they run on a CPU too (see autograder/readiness.py).
They judge the student's Seq2Seq.train_step (float32 loss, loss scaling, applying the
gradients) under XLA, the mixed_float16 policy and batches of varying size, on the stand-in
shift_right that puts START at every position (shift_right has a check of its own)."""
import functools

from autograder import readiness
from autograder.api import check
from autograder.checks.lab06_rnn.probes import SEQ2SEQ, on_stand_in_shift

TASK = "`Seq2Seq.train_step`"


def _build(lab):
    return lambda: lab.seq2seq.Seq2Seq(embed_dim=8, units=16)


def _reversal(rng, n=64):
    sources = rng.integers(0, 10, size=(n, 4)).astype("int32")
    return sources, sources[:, ::-1].copy()


def _on_stand_in_shift(chk):
    """The check, its probe run on the stand-in shift_right."""
    probe = chk.probe

    @functools.wraps(probe)
    def wrapped(lab, rng):
        with on_stand_in_shift(lab):
            return probe(lab, rng)
    chk.probe = wrapped
    return chk


# The engine's XLA and mixed-precision checks; the tracing check is this file's own (three
# batch sizes instead of five: a step that depends on the batch size traces three times).
seq2seq_trains_with_xla, seq2seq_trains_in_mixed_precision = (
    _on_stand_in_shift(chk) for chk in readiness.checks_for(
        __name__, "seq2seq", build=_build, data=_reversal, uses=SEQ2SEQ, task=TASK)[:2])


@check(points=1, reference=False, uses=SEQ2SEQ, task=TASK,
       hint="use tf.shape(x), not x.shape, for sizes in train_step: the last batch is "
            "smaller; and apply the gradients (self.optimizer.apply)")
def seq2seq_train_step_traces_at_most_twice(lab, rng):
    """GPU readiness: `fit` over three batch sizes traces `train_step` at most twice, and
    the steps move the weights."""
    with on_stand_in_shift(lab):
        return readiness.traces_over_batch_sizes(_build(lab), readiness.compile_with_adam,
                                                 _reversal(rng), sizes=(32, 20, 5))


seq2seq_train_step_traces_at_most_twice.verdict(
    lambda student, _reference: readiness.judge_traces(student))
