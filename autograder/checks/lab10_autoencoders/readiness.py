"""GPU-readiness checks of lab10_autoencoders: they run on a CPU too (see
autograder/readiness.py). The wrapped autoencoder is the checks' own, so these judge the
student's DenoisingAutoencoder: corruption, loss and loss scaling in its train_step; and
the student's ContractiveAutoencoder on the checks' own stacks (its penalty, nested tapes
under XLA and float16)."""
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


def _contractive(lab):
    # The smallest stacks that still run the student's whole train_step and penalty (nested
    # tapes, batch_jacobian, its second derivative): one Dense each way, 4 inputs, 2 code
    # units. XLA's compile of the batch Jacobian grows with the encoder's depth.
    from autograder.checks.lab10_autoencoders.probes_regularized import stacks
    return lambda: lab.regularized.ContractiveAutoencoder(*stacks(4, 2, None, "sigmoid"),
                                                          contraction_weight=0.1)


(contractive_trains_with_xla, contractive_trains_in_mixed_precision,
 contractive_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "contractive", build=_contractive, data=lambda rng: _images(rng)[:, :4],
    uses="regularized", task="`ContractiveAutoencoder.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape, the losses in float32 "
               "(cast the codes and the reconstruction)",
    trace_hint="take the Jacobian with tape.batch_jacobian and reshape with tf.shape, not "
               "x.shape: the last batch is smaller")
