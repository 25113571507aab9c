"""Public checks of lab17_self_supervised, part 3: training, relative to the reference at the
same seed and budget. SimCLR (the student's augmenter, NT-Xent and train_step, the given
encoder) pretrains on the digits; the checks' own probe (scikit-learn's logistic regression
on 5 labels per class) must do better on its frozen features than on a randomly initialised
encoder's, by the margin the handout states. CPC (the student's cpc_loss, InfoNCE and
train_step) trains on the procedural sequences; its held-out loss and a probe of the class
from its features are compared with the reference's."""
import numpy as np

from autograder.api import check
from autograder.checks.lab17_self_supervised.probes import few_labels, sklearn_probe_accuracy
from autograder.verdicts import expect_at_least, expect_at_most, expect_true

SIMCLR = {"epochs": 4, "batch_size": 128, "learning_rate": 3e-3, "labels_per_class": 5,
          "seed": 0}
SIMCLR_MARGIN = 0.05        # pretrained minus random-encoder probe accuracy, at least
SIMCLR_SLACK = 0.08         # how far below the reference's probe accuracy a student may land
CPC = {"n": 256, "length": 32, "epochs": 3, "batch_size": 32, "learning_rate": 1e-2,
       "steps_ahead": 3, "seed": 0}
CPC_SLACK = 0.15            # nats above the reference's held-out CPC loss
CPC_PROBE_SLACK = 0.15      # below the reference's class-probe accuracy


def simclr_run(lab, budget):
    import keras

    from dlkit.backend import reset_keras
    from dlkit.data import load_digits
    x_train, y_train = load_digits("train")
    x_test, y_test = load_digits("test")
    index = few_labels(y_train, budget["labels_per_class"], budget["seed"])

    def probe(encoder):
        features = [np.asarray(encoder(x, training=False)) for x in (x_train[index], x_test)]
        return sklearn_probe_accuracy(features[0], y_train[index], features[1], y_test)
    reset_keras(budget["seed"])
    random_accuracy = probe(lab.selfsup.make_encoder())
    reset_keras(budget["seed"])
    model = lab.selfsup.SimCLR(lab.selfsup.make_encoder(),
                               lab.selfsup.make_augmenter(seed=budget["seed"]))
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    history = model.fit(x_train, batch_size=budget["batch_size"], epochs=budget["epochs"],
                        verbose=0)
    losses = history.history.get("loss", [np.nan])
    return {"random": random_accuracy, "pretrained": probe(model.encoder),
            "first_loss": float(losses[0]), "last_loss": float(losses[-1])}


@check(points=4, timeout=60, uses="selfsup", task="`SimCLR` (and `make_augmenter`, "
       "`nt_xent_loss`)",
       hint="SimCLR must train the encoder so that a linear probe on its frozen features beats "
            "a random encoder's")
def simclr_beats_random_encoder(lab, rng):
    """SimCLR on the digits (the budget below), then a logistic-regression probe on 5 labels
    per class: the pretrained encoder's test accuracy is at least 0.05 above a randomly
    initialised one's and at most 0.08 below the reference's."""
    return simclr_run(lab, SIMCLR)


@simclr_beats_random_encoder.verdict
def _(student, reference):
    expect_true(np.isfinite(student["last_loss"]), "SimCLR's training loss became NaN")
    expect_at_most(student["last_loss"], student["first_loss"] - 0.2, "SimCLR's logged loss in "
                   f"the last epoch (it was {student['first_loss']:.3f} in the first)")
    expect_at_least(student["pretrained"] - student["random"], SIMCLR_MARGIN,
                    f"probe accuracy of the SimCLR encoder ({student['pretrained']:.3f}) minus "
                    f"that of a random encoder ({student['random']:.3f})")
    expect_at_least(student["pretrained"], reference["pretrained"] - SIMCLR_SLACK,
                    "probe accuracy of the SimCLR encoder (the reference reaches "
                    f"{reference['pretrained']:.3f} with the same budget)")


def cpc_run(lab, budget):
    import keras

    from dlkit.backend import reset_keras
    from dlkit.data import make_sequences
    x, labels, _ = make_sequences(budget["n"], length=budget["length"], seed=budget["seed"])
    x_test, labels_test, _ = make_sequences(budget["n"], length=budget["length"],
                                            seed=budget["seed"] + 1)
    reset_keras(budget["seed"])
    model = lab.selfsup.CPC(steps_ahead=budget["steps_ahead"])
    before = float(model.cpc_loss(x_test[:64]))
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    model.fit(x, batch_size=budget["batch_size"], epochs=budget["epochs"], verbose=0)
    features = [np.asarray(model.features(s)) for s in (x, x_test)]
    return {"before": before, "after": float(model.cpc_loss(x_test[:64])),
            "probe": sklearn_probe_accuracy(features[0], labels, features[1], labels_test)}


@check(points=2, timeout=60, uses="selfsup", task="`CPC` (and `info_nce_loss`)",
       hint="CPC must lower the held-out InfoNCE loss like the reference and learn features "
            "that tell the sequence classes apart")
def cpc_trains(lab, rng):
    """CPC on the procedural sequences (the budget below): the held-out CPC loss (64
    sequences) falls by at least 0.3 nats and to within 0.15 nats of the reference's, and a logistic-regression probe
    of the class from the last context vector is within 0.15 of the reference's accuracy."""
    return cpc_run(lab, CPC)


@cpc_trains.verdict
def _(student, reference):
    expect_at_most(student["after"], student["before"] - 0.3,
                   f"the held-out CPC loss after training (it was {student['before']:.3f} before)")
    expect_at_most(student["after"], reference["after"] + CPC_SLACK,
                   f"the held-out CPC loss after training (the reference reaches "
                   f"{reference['after']:.3f})", unit=" nats")
    expect_at_least(student["probe"], reference["probe"] - CPC_PROBE_SLACK,
                    f"the class-probe accuracy on CPC features (the reference reaches "
                    f"{reference['probe']:.3f})")
