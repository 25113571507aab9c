"""GPU-readiness checks of lab06_rnn: they run on a CPU too (see autograder/readiness.py).
They judge the student's Seq2Seq.train_step (teacher forcing, float32 loss, loss scaling)
under XLA, the mixed_float16 policy and batches of varying size."""
from autograder import readiness


def _build(lab):
    return lambda: lab.seq2seq.Seq2Seq(embed_dim=8, units=16)


def _reversal(rng, n=64):
    sources = rng.integers(0, 10, size=(n, 4)).astype("int32")
    return sources, sources[:, ::-1].copy()


seq2seq_trains_with_xla, seq2seq_trains_in_mixed_precision, \
    seq2seq_train_step_traces_at_most_twice = readiness.checks_for(
        __name__, "seq2seq", build=_build, data=_reversal, uses="seq2seq",
        trace_hint="build the START column with tf.shape(targets)[0], not targets.shape[0]: "
                   "the last batch is smaller")
