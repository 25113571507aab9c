"""GPU-readiness checks of lab17_self_supervised: they run on a CPU too (see
autograder/readiness.py). SimCLR, CPC, BYOL and the Pi-model, each with the student's own
losses and train_step, tiny. The image models get the checks' augmenter (Gaussian noise):
Keras's random translation, contrast and brightness layers are tf.data layers that XLA does
not compile, and the graded unit here is the train_step."""
from autograder import readiness


def images(rng, n=64):
    return rng.uniform(size=(n, 8, 8, 1)).astype("float32")


def sequences(rng, n=64):
    return rng.normal(size=(n, 5, 1)).astype("float32")   # short: XLA compiles the GRU faster


def labelled_images(rng, n=64):
    y = rng.integers(0, 10, size=n).astype("int32")
    y[rng.uniform(size=n) < 0.7] = -1
    return images(rng, n), y


def noise(lab):
    import keras
    return keras.layers.GaussianNoise(0.1, seed=1)


def small_encoder(lab):
    import keras
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(8, activation="relu")])


def classifier(lab):
    import keras
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(10)])


(simclr_trains_with_xla, simclr_trains_in_mixed_precision,
 simclr_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "simclr", build=lambda lab: lambda: lab.selfsup.SimCLR(
        small_encoder(lab), noise(lab), projection_dim=4, hidden_units=8),
    data=images, uses="selfsup", task="`SimCLR.train_step`")

(cpc_trains_with_xla, cpc_trains_in_mixed_precision,
 cpc_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "cpc", build=lambda lab: lambda: lab.selfsup.CPC(2, 2, 1),
    data=sequences, uses="selfsup", task="`CPC.train_step`")

(byol_trains_with_xla, byol_trains_in_mixed_precision,
 byol_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "byol", build=lambda lab: lambda: lab.selfsup.BYOL(
        small_encoder(lab), noise(lab), projection_dim=4, hidden_units=8),
    data=images, uses="selfsup", task="`BYOL.train_step`")

(pi_model_trains_with_xla, pi_model_trains_in_mixed_precision,
 pi_model_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "pi_model", build=lambda lab: lambda: lab.selfsup.PiModel(
        classifier(lab), noise(lab)),
    data=labelled_images, uses="selfsup", task="`PiModel.train_step`")
