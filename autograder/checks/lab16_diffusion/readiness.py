"""GPU-readiness checks of lab16_diffusion: they run on a CPU too (see
autograder/readiness.py). The denoiser is the checks' own, so these judge the student's
DiffusionModel.train_step (noise, loss, loss scaling, EMA update)."""
from autograder import readiness
from autograder.checks.lab16_diffusion.probes import probe_denoiser


def _build(lab):
    return lambda: lab.diffusion_model.DiffusionModel(probe_denoiser(16), data_dim=2,
                                                      num_steps=50, ema_decay=0.9)


(diffusion_trains_with_xla, diffusion_trains_in_mixed_precision,
 diffusion_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "diffusion", build=_build, data=readiness.gaussian_points,
    uses=("forward_process", "diffusion_model"), task="`DiffusionModel.train_step`",
    trace_hint="draw t and the noise with tf.shape(x)[0], not x.shape[0]: the last batch is "
               "smaller")
