"""GPU-readiness checks of lab25_model_compression: they run on a CPU too (see
autograder/readiness.py). A small Distiller (a frozen MLP teacher): the student's train_step
and distillation_loss under XLA and float16."""
from autograder import readiness


def _build(lab):
    def make():
        mlp = lab.compression.make_mlp
        return lab.compression.Distiller(mlp((8,), 4, inputs=6, name="student"),
                                         mlp((16,), 4, inputs=6, name="teacher"))
    return make


def _data(rng):
    return (rng.normal(size=(64, 6)).astype("float32"), rng.integers(0, 4, 64).astype("int32"))


(distiller_trains_with_xla, distiller_trains_in_mixed_precision,
 distiller_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "distiller", build=_build, data=_data, uses=("compression",),
    task="`Distiller.train_step`",
    scale_hint="under mixed_float16 the logits are float16: cast them to float32 before the "
               "losses; differentiate what scale_loss returned",
    trace_hint="no Python values that change per batch in train_step")
