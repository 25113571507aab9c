"""Public checks of lab19_deep_clustering, part 2: the DEC and IDEC models.

initialize is judged against scikit-learn's KMeans run by the probe on the same codes;
update_targets, train_step and IDEC.compute_losses run with the checks' own stand-ins for
soft_assignment, target_distribution and clustering_kl (probes.py), so they are graded even
when those formulas are wrong; the training check runs the student's whole DEC and IDEC on
the checks' own pretrained autoencoder, relative to the reference at the same seed.
"""
import numpy as np

from autograder.api import check
from autograder.check_helpers import largest_change, snapshot, standing_in, tensor
from autograder.checks.lab19_deep_clustering.probes import (
    STAND_INS,
    TRAIN,
    judge_training,
    logged,
    np_gaussian_assignment,
    np_squared_rows,
    prepared,
    tiny_decoder,
    tiny_encoder,
    train_probe,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_equal, expect_true


@check(points=1, uses="dec", reference=False, task="`DEC.initialize`",
       hint="codes = self.encoder(x); KMeans(self.n_clusters, n_init=10, random_state=seed) "
            "fitted on the codes; its cluster_centers_ into self.centres; return its labels_")
def dec_initialize(lab, rng):
    """On 60 points in 4 groups, the centres and labels equal scikit-learn's KMeans (n_init=10,
    the given seed) on the encoder's codes, not on the inputs."""
    from sklearn.cluster import KMeans
    encoder = tiny_encoder(rng)
    x = (rng.normal(size=(60, 5)) + 3.0 * rng.normal(size=(4, 5))[rng.integers(0, 4, 60)])
    x = x.astype("float32")
    model = lab.dec.DEC(encoder, 4)
    labels = model.initialize(x, seed=7)
    codes = np.asarray(encoder(x), dtype="float64")
    fitted = KMeans(n_clusters=4, random_state=7, n_init=10).fit(codes)
    return {"centres": np.asarray(model.centres), "labels": np.asarray(labels),
            "expected_centres": fitted.cluster_centers_, "expected_labels": fitted.labels_,
            "stored": np.asarray(model.data), "x": x}


@dec_initialize.verdict
def _(student, _reference):
    expect_close(student["stored"], student["x"], "DEC.initialize(x): self.data",
                 against="x (the given lines store it)")
    expect_equal(student["labels"], student["expected_labels"],
                 "the labels DEC.initialize(x, seed=7) returns")
    expect_close(student["centres"], student["expected_centres"],
                 "the centres after DEC.initialize(x, seed=7)", rtol=1e-4, atol=1e-4,
                 against="KMeans(4, n_init=10, random_state=7) on the CODES encoder(x)")


def small_dec(lab, rng, interval=2):
    """The student's DEC on the checks' tiny encoder, 12 stored points, random centres."""
    import keras
    encoder = tiny_encoder(rng)
    x = rng.normal(size=(12, 5)).astype("float32")
    model = prepared(lab.dec.DEC(encoder, 3, update_interval=interval), x,
                     rng.normal(size=(3, 3)))
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.optimizer.build(model.trainable_variables)
    return model, x


@check(points=1, uses="dec", reference=False, task="`DEC.update_targets`",
       hint="self.targets.assign(target_distribution(self(self.data))): q of ALL stored points")
def update_targets(lab, rng):
    """With the checks' stand-in formulas: the targets become target(q of all stored points)."""
    model, x = small_dec(lab, rng)
    with standing_in(lab.dec, **STAND_INS):
        model.update_targets()
    codes = np.asarray(model.encoder(x), dtype="float64")
    return {"targets": np.asarray(model.targets),
            "expected": np_squared_rows(np_gaussian_assignment(codes,
                                                               np.asarray(model.centres)))}


@update_targets.verdict
def _(student, _reference):
    expect_close(student["targets"], student["expected"], "self.targets after update_targets()",
                 against="target_distribution(self(self.data)) (the checks' stand-ins)",
                 rtol=1e-4, atol=1e-6)


@check(points=3, uses="dec", task="`DEC.train_step`, `DEC.compute_losses`",
       hint="refresh the targets at steps 0, T, 2T, ... (iterations % T == 0, BEFORE the step, "
            "with tf.cond); p = tf.gather(self.targets, index); loss = compute_losses(x, p); "
            "gradients for the encoder AND the centres; optimizer.apply; the trackers")
def dec_train_step(lab, rng):
    """Five train_steps (T = 2, by `train_on_batch`) on batches of 4 (x, index), with the
    checks' stand-in formulas: the targets after each step, the logged loss, and the weights."""
    model, x = small_dec(lab, rng)
    index = rng.permutation(12)[:4].astype("int32")
    targets, losses, moved, centres_moved = [], [], [], []
    with standing_in(lab.dec, **STAND_INS):
        for step in range(5):
            before, centres = snapshot(model.trainable_variables), np.asarray(model.centres)
            logs = model.train_on_batch(x[index], index, return_dict=True)
            moved.append(largest_change(before, model.trainable_variables))
            centres_moved.append(float(np.abs(np.asarray(model.centres) - centres).max()))
            targets.append(np.asarray(model.targets))
            losses.append(logged(logs, "train_step"))
            index = np.roll(np.arange(12), -4 * (step + 1))[:4].astype("int32")
    return {"targets": np.stack(targets), "losses": [entry.get("loss", np.nan)
                                                     for entry in losses],
            "names": sorted(losses[0]), "centres": np.asarray(model.centres),
            "moved_centres": float(np.abs(np.asarray(model.centres)).sum()),
            "moved": moved, "centres_moved": centres_moved,
            "encoder": np.concatenate([np.ravel(w) for w in model.encoder.get_weights()])}


@dec_train_step.verdict
def _(student, reference):
    expect_true(student["names"] == ["kl", "loss"], f"train_step returned {student['names']}; "
                "it must return the trackers' results, {'loss': ..., 'kl': ...}")
    targets, expected = student["targets"], reference["targets"]
    expect_close(targets[0], expected[0], "self.targets after training step 0", rtol=1e-4,
                 atol=1e-6, against="the reference's: the targets are refreshed BEFORE step 0 "
                                    "(iterations % update_interval == 0), so the first step "
                                    "trains on them")
    moved, losses = student["moved"], student["losses"]
    zero_targets = (moved[0] == 0 and max(moved[1:]) > 0) or (
        abs(losses[0]) < 1e-9 < abs(reference["losses"][0]))
    expect_true(not zero_targets, f"training step 0 logged loss {losses[0]:.4g} (the reference "
                f"{reference['losses'][0]:.4g}) and moved no weight (largest change "
                f"{moved[0]:.3g}), while later steps train: step 0 trained on the all-zero "
                "targets self.targets starts with. Refresh the targets BEFORE the step "
                "(tf.cond on iterations % update_interval == 0 first, then gather p, then the "
                "tape), not after optimizer.apply")
    expect_true(min(student["moved"]) > 0, "a train_step left every weight unchanged: apply "
                "the gradients with self.optimizer.apply")
    expect_true(min(student["centres_moved"]) > 0, "a train_step left the centres unchanged: "
                "they are trainable weights of the model, so take the gradient (and apply it) "
                "for self.trainable_variables, the encoder's AND self.centres")
    for step in range(1, 5):
        refreshed = step % 2 == 0
        expect_close(targets[step], expected[step],
                     f"self.targets after training step {step} (update_interval=2)",
                     rtol=1e-4, atol=1e-6,
                     against="the reference's: targets refreshed BEFORE steps 0, 2, 4 "
                             "(iterations % update_interval == 0) and fixed in between"
                     if refreshed else "the reference's: the targets must NOT change at "
                                       "step 1 or 3, between refreshes")
    expect_close(np.array(student["losses"]), np.array(reference["losses"]),
                 "the loss train_step logs over five steps",
                 against="the reference's (the trackers' running mean of compute_losses(x, "
                         "gather(targets, index))['loss'])", rtol=1e-4, atol=1e-6)
    expect_close(student["encoder"], reference["encoder"], "the encoder's weights after five "
                 "steps", rtol=1e-4, atol=1e-6)
    expect_close(student["centres"], reference["centres"],
                 "the centres after five steps (they are trainable: the gradient must reach "
                 "self.centres)", rtol=1e-4, atol=1e-6)
    expect_close(student["moved_centres"], reference["moved_centres"], "sum |centres|",
                 rtol=1e-4)
    expect_close(np.array(student["moved"]), np.array(reference["moved"]),
                 "the largest weight change of each step", rtol=1e-3, atol=1e-6)
    expect_close(np.array(student["centres_moved"]), np.array(reference["centres_moved"]),
                 "the largest change of the centres at each step", rtol=1e-3, atol=1e-6)


def flat_gradient(tape, target, variables):
    """The gradient of target for variables as one float64 vector (None as zeros)."""
    gradients = tape.gradient(target, variables)
    return np.concatenate([np.zeros(int(np.prod(v.shape))) if g is None
                           else np.ravel(np.asarray(g, dtype="float64"))
                           for g, v in zip(gradients, variables)])


@check(points=2, uses="dec", reference=False, task="`IDEC.compute_losses`",
       hint="z = encoder(x); kl = clustering_kl(p, soft_assignment(z, centres, alpha)); "
            "reconstruction = mean((decoder(z) - x)^2); loss = kl + gamma * reconstruction, "
            "with the gradient of both terms reaching the encoder")
def idec_losses(lab, rng):
    """With the checks' stand-in formulas and gamma = 0.3: kl, reconstruction and loss against
    numpy; the gradient of the loss for the decoder, and for the ENCODER (the KL's plus gamma
    times the reconstruction's, by tape), so the reconstruction shapes the code space."""
    import keras
    import tensorflow as tf

    from autograder.checks.lab19_deep_clustering.probes import (
        cross_entropy,
        gaussian_assignment,
    )
    encoder, decoder = tiny_encoder(rng), tiny_decoder(rng)
    model = lab.dec.IDEC(encoder, decoder, 3, gamma=0.3)
    model.centres.assign(rng.normal(size=(3, 3)).astype("float32"))
    x = rng.uniform(size=(6, 5)).astype("float32")
    p = np_squared_rows(rng.dirichlet(np.ones(3), size=6))
    with standing_in(lab.dec, **STAND_INS), tf.GradientTape(persistent=True) as tape:
        losses = model.compute_losses(tensor(x), tensor(p))
        total = losses["loss"]
    decoder_gradient = flat_gradient(tape, total, decoder.trainable_variables)
    encoder_gradient = flat_gradient(tape, total, encoder.trainable_variables)
    with tf.GradientTape(persistent=True) as tape:  # the two terms, the checks' own way
        kl_term = cross_entropy(p, gaussian_assignment(encoder(x), model.centres))
        mse_term = keras.losses.MeanSquaredError()(x, decoder(encoder(x)))
    kl_gradient = flat_gradient(tape, kl_term, encoder.trainable_variables)
    mse_gradient = flat_gradient(tape, mse_term, encoder.trainable_variables)
    codes = np.asarray(encoder(x), dtype="float64")
    q = np_gaussian_assignment(codes, np.asarray(model.centres))
    return {"names": sorted(losses), "values": {k: float(v) for k, v in losses.items()},
            "kl": float(-np.mean(np.sum(p * np.log(q + 1e-10), 1))),
            "reconstruction": float(np.mean((np.asarray(decoder(codes)) - x) ** 2)),
            "decoder_gradient": float(np.abs(decoder_gradient).sum()),
            "encoder_gradient": encoder_gradient, "kl_gradient": kl_gradient,
            "mse_gradient": mse_gradient}


@idec_losses.verdict
def _(student, _reference):
    expect_true(student["names"] == ["kl", "loss", "reconstruction"],
                f"IDEC.compute_losses returned the keys {student['names']}, expected "
                "['kl', 'loss', 'reconstruction']")
    values = student["values"]
    expect_close(values["kl"], student["kl"], "IDEC.compute_losses(x, p)['kl']",
                 against="clustering_kl(p, soft_assignment(encoder(x), centres)) (stand-ins)",
                 rtol=1e-4)
    expect_close(values["reconstruction"], student["reconstruction"],
                 "IDEC.compute_losses(x, p)['reconstruction']",
                 against="mean((decoder(encoder(x)) - x)^2) over points AND dimensions",
                 rtol=1e-4)
    expect_close(values["loss"], student["kl"] + 0.3 * student["reconstruction"],
                 "IDEC.compute_losses(x, p)['loss'] with gamma=0.3",
                 against="kl + gamma * reconstruction", rtol=1e-4)
    expect_true(student["decoder_gradient"] > 0, "IDEC's loss gives the decoder no gradient: "
                "the reconstruction must come from self.decoder(z) with TensorFlow ops")
    kl_gradient, mse_gradient = student["kl_gradient"], student["mse_gradient"]
    expect_close_naming(
        student["encoder_gradient"], kl_gradient + 0.3 * mse_gradient,
        "the encoder's gradient of IDEC.compute_losses(x, p)['loss'] with gamma=0.3", [
            (kl_gradient, "is the KL's gradient alone: the reconstruction sends the encoder no "
                          "gradient (decoder(tf.stop_gradient(z))? a detached or numpy z?); "
                          "decode the encoder's own output z, so the reconstruction keeps the "
                          "code space in shape, which is IDEC's point"),
            (0.3 * mse_gradient, "is the reconstruction's gradient alone: the KL sends the "
                                 "encoder no gradient"),
            (np.zeros_like(kl_gradient), "is zero: the loss must depend on the encoder's "
                                         "weights through TensorFlow ops")],
        rtol=1e-3, atol=1e-6, against="the KL's gradient plus gamma times the "
                                      "reconstruction's (by tape, the checks' stand-ins)")


@check(points=4, timeout=60, uses="dec", task="`DEC`, `IDEC` (the whole model)",
       hint="the whole DEC: Student-t q, the sharpened target refreshed every T steps, KL(P||Q) "
            "with p held fixed; IDEC adds gamma * reconstruction. Must come within 0.03 of the "
            "reference's accuracy and NMI")
def dec_and_idec_train(lab, rng):
    """The checks' own k-means baselines (scikit-learn, n_init=5) on the pixels and on the codes
    of the checks' pretrained autoencoder, then your DEC and IDEC from those codes (your
    initialize, n_init=10), with the budget below: their accuracy and NMI within 0.03 of the
    reference's, and the same logged loss."""
    return train_probe(lab, rng, TRAIN)


@dec_and_idec_train.verdict
def _(student, reference):
    judge_training(student, reference)
