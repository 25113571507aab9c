"""GPU-readiness checks of lab07_transformers: they run on a CPU too (see
autograder/readiness.py). They judge the student's MiniGPT.train_step: loss scaling, float32
losses under mixed precision, XLA, and no retracing per batch size."""
from autograder import readiness
from autograder.checks.lab07_transformers.probes import toy_language


def _build(lab):
    # The smallest model with every piece: compiling and tracing cost grows with the graph.
    return lambda: lab.transformer.MiniGPT(6, 6, d_model=8, num_heads=2, num_layers=1,
                                           mlp_dim=8)


def _sequences(rng, n=64):
    return toy_language(n, 7, 6, seed=int(rng.integers(1 << 30)))


(gpt_trains_with_xla, gpt_trains_in_mixed_precision,
 gpt_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "gpt", build=_build, data=_sequences, uses="transformer",
    task="`MiniGPT.train_step`",
    scale_hint="inside the tape: scaled = self.optimizer.scale_loss(loss), then "
               "tape.gradient(scaled, ...); next_token_loss casts the logits to float32",
    trace_hint="no Python that depends on the batch: slice with sequences[:, :-1], "
               "use tf.shape for sizes")
