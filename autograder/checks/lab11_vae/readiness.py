"""GPU-readiness checks of lab11_vae: they run on a CPU too (see autograder/readiness.py)."""
from autograder import readiness


def _build(lab):
    return lambda: lab.vae.VAE(input_dim=64, latent_dim=4, hidden_units=(32,))


def _binary_images(rng, n=64):
    return (rng.random((n, 64)) < 0.5).astype("float32")


vae_trains_with_xla, vae_trains_in_mixed_precision, vae_train_step_traces_at_most_twice = \
    readiness.checks_for(__name__, "vae", build=_build, data=_binary_images, uses="vae",
                         task="`VAE.train_step`",
                         trace_hint="draw the noise with tf.shape(mean), not mean.shape: the "
                                    "last batch of an epoch is smaller")
