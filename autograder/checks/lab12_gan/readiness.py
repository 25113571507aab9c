"""GPU-readiness checks of lab12_gan: they run on a CPU too (see autograder/readiness.py).

The networks are the check's own ELU MLPs (probes.probe_networks), so these checks judge the
GAN's own train_step: two optimizers, each loss scaled by its own optimizer.
"""
from autograder import readiness
from autograder.checks.lab12_gan.probes import MODEL


def _build(lab):
    def build():
        from autograder.checks.lab12_gan.probes import probe_networks
        generator, discriminator = probe_networks(hidden_units=32)
        return lab.gan_model.GAN(generator, discriminator, latent_dim=2, seed=1)
    return build


def _compile(model, jit_compile="auto"):
    import keras

    def adam():
        return readiness.scaled_like_keras(keras.optimizers.Adam(1e-3))
    model.compile(d_optimizer=adam(), g_optimizer=adam(), jit_compile=jit_compile)


gan_trains_with_xla, gan_trains_in_mixed_precision, gan_train_step_traces_at_most_twice = \
    readiness.checks_for(__name__, "gan", build=_build, compile_model=_compile,
                         data=readiness.gaussian_points, uses=MODEL, task="`GAN.train_step`",
                         scale_hint="in each step: scaled = <that step's optimizer>.scale_loss("
                                    "loss) inside the tape, then tape.gradient(scaled, ...)",
                         trace_hint="count fakes with tf.shape(real)[0], not real.shape[0]: "
                                    "the last batch is smaller")
