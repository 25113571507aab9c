"""Hidden checks of lab19_deep_clustering: the formulas on fresh shapes and alphas, the
metrics on fresh labelings (brute force and scikit-learn), and DEC's train_step with another
update interval and batch size. References from the solution, run live."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import standing_in, tensor
from autograder.checks.lab19_deep_clustering.probes import STAND_INS, logged, prepared, tiny_encoder
from autograder.checks.lab19_deep_clustering.public import brute_force_accuracy
from autograder.verdicts import expect_close


@check(points=1, uses="dec", hint="soft_assignment and target_distribution must hold for any N, "
       "K, code size and alpha")
def formulas_other_shapes(lab, rng):
    n, k, c = (int(v) for v in rng.integers(3, 9, size=3))
    alpha = float(rng.uniform(0.3, 5.0))
    z, centres = rng.normal(size=(n, c)), rng.normal(scale=2.0, size=(k, c))
    q = np.asarray(lab.dec.soft_assignment(tensor(z), tensor(centres), alpha))
    return {"q": q, "p": np.asarray(lab.dec.target_distribution(tensor(q))),
            "kl": float(lab.dec.clustering_kl(tensor(np.full_like(q, 1.0 / k)), tensor(q))),
            "alpha": alpha}


@formulas_other_shapes.verdict
def _(student, reference):
    what = f"(alpha = {student['alpha']:.3g}, q of shape {np.shape(student['q'])})"
    expect_close(student["q"], reference["q"], f"soft_assignment {what}", rtol=1e-5, atol=1e-6)
    expect_close(student["p"], reference["p"], f"target_distribution(q) {what}", rtol=1e-5,
                 atol=1e-6)
    expect_close(student["kl"], reference["kl"], f"clustering_kl(uniform p, q) {what}",
                 rtol=1e-4)


@check(points=1, uses="dec", reference=False, hint="the best one-to-one matching and the "
       "arithmetic-mean NMI must hold for any labelings")
def metrics_other_labelings(lab, rng):
    from sklearn.metrics import normalized_mutual_info_score
    out = []
    for _ in range(3):
        n = int(rng.integers(20, 60))
        y_true = rng.integers(0, int(rng.integers(2, 5)), size=n)
        y_pred = np.where(rng.uniform(size=n) < 0.6, (y_true * 3 + 1) % 5,
                          rng.integers(0, int(rng.integers(2, 6)), size=n))
        out.append([float(lab.dec.cluster_accuracy(y_true, y_pred)),
                    brute_force_accuracy(y_true, y_pred),
                    float(lab.dec.normalized_mutual_info(y_true, y_pred)),
                    float(normalized_mutual_info_score(y_true, y_pred))])
    return {"values": np.array(out)}


@metrics_other_labelings.verdict
def _(student, _reference):
    values = student["values"]
    expect_close(values[:, 0], values[:, 1], "cluster_accuracy on fresh labelings",
                 against="brute force over every matching", rtol=1e-9, atol=1e-9)
    expect_close(values[:, 2], values[:, 3], "normalized_mutual_info on fresh labelings",
                 against="sklearn's normalized_mutual_info_score", rtol=1e-6, atol=1e-9)


@check(points=2, uses="dec", hint="train_step must refresh the targets every update_interval "
       "steps, whatever the interval and batch size")
def dec_train_step_other_interval(lab, rng):
    import keras
    interval = int(rng.integers(3, 5))
    model = prepared(lab.dec.DEC(tiny_encoder(rng), 4, update_interval=interval),
                     rng.normal(size=(15, 5)), rng.normal(size=(4, 3)))
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.optimizer.build(model.trainable_variables)
    x = np.asarray(model.data)
    index = rng.integers(0, 15, size=6 * (interval + 2)).astype("int32")
    with standing_in(lab.dec, **STAND_INS):
        history = model.fit(x[index], index, batch_size=6, epochs=1, shuffle=False, verbose=0)
    return {"targets": np.asarray(model.targets), "centres": np.asarray(model.centres),
            "loss": logged({k: v[-1] for k, v in history.history.items()}, "fit")["loss"]}


@dec_train_step_other_interval.verdict
def _(student, reference):
    expect_close(student["targets"], reference["targets"], "the targets after fit", rtol=1e-4,
                 atol=1e-6)
    expect_close(student["centres"], reference["centres"], "the centres after fit", rtol=1e-4,
                 atol=1e-5)
    expect_close(student["loss"], reference["loss"], "the loss fit logs", rtol=1e-4)
