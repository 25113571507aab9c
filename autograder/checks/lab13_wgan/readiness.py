"""GPU-readiness checks of lab13_wgan: they run on a CPU too (see autograder/readiness.py).
A WGAN-GP with the given MLPs, so these judge the student's train_step: n_critic critic
steps with the nested-tape penalty, then a generator step, each loss scaled by its own
optimizer."""
from autograder import readiness

MODULES = ("wgan_losses", "wgan_model")


def _build(lab):
    def build():
        model = lab.wgan_model
        return model.WGAN(model.make_mlp_generator(latent_dim=2, hidden_units=32),
                          model.make_mlp_critic(hidden_units=32), latent_dim=2, n_critic=2)
    return build


def _compile(model, jit_compile="auto"):
    import keras

    def adam():
        return readiness.scaled_like_keras(keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9))
    model.compile(critic_optimizer=adam(), generator_optimizer=adam(), jit_compile=jit_compile)


wgan_trains_with_xla, wgan_trains_in_mixed_precision, wgan_train_step_traces_at_most_twice = \
    readiness.checks_for(__name__, "wgan", build=_build, compile_model=_compile, data=readiness.gaussian_points,
                         uses=MODULES, task="`WGAN.train_step`",
                         scale_hint="in each step: scaled = <that step's optimizer>.scale_loss("
                                    "loss) inside the tape, then tape.gradient(scaled, ...); "
                                    "the penalty in float32")
