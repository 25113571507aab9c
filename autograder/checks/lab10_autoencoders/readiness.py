"""GPU-readiness checks of lab10_autoencoders: they run on a CPU too (see
autograder/readiness.py). The wrapped autoencoder is the checks' own, so these judge the
student's DenoisingAutoencoder: corruption, loss and loss scaling in its train_step."""
from autograder import readiness
from autograder.checks.lab10_autoencoders.probes import probe_autoencoder


def _build(lab):
    return lambda: lab.autoencoders.DenoisingAutoencoder(probe_autoencoder(code_dim=4, hidden=32),
                                                         noise_stddev=0.3)


def _images(rng, n=64):
    return rng.random((n, 64)).astype("float32")


(denoiser_trains_with_xla, denoiser_trains_in_mixed_precision,
 denoiser_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "denoiser", build=_build, data=_images,
    uses="autoencoders", task="`DenoisingAutoencoder.train_step`",
    trace_hint="draw the noise with tf.shape(x), not x.shape: the last batch is smaller")
