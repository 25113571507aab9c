"""Public checks of lab19_deep_clustering, part 1: the autoencoder, the Student-t soft
assignments, the target distribution, the KL loss and the two metrics. Formulas are compared
with the reference on random inputs that tell the usual slips apart; the KL's gradient with
the analytic one, (q - p) / N through a softmax; the metrics with brute force over every
matching and with scikit-learn's NMI."""
import itertools

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, tensor
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_shape,
    expect_true,
)


@check(points=1, uses="dec", task="`build_autoencoder`",
       hint="encoder: Dense(u, relu) per hidden size, then a LINEAR Dense(code_dim); decoder: "
            "the mirror, ending in Dense(input_dim, sigmoid); autoencoder = encoder then decoder")
def build_autoencoder(lab, rng):
    """Shapes, weight counts and outputs of `build_autoencoder(12, (8, 6), 3)` on fixed random
    weights; the autoencoder is the decoder of the encoder."""
    encoder, decoder, autoencoder = lab.dec.build_autoencoder(12, (8, 6), 3)
    assign_random_weights(autoencoder, rng, 0.4)
    x = rng.uniform(size=(7, 12)).astype("float32")
    codes = np.asarray(encoder(x))
    return {"codes": codes, "reconstruction": np.asarray(autoencoder(x)),
            "decoded": np.asarray(decoder(codes)),
            "params": [int(m.count_params()) for m in (encoder, decoder, autoencoder)]}


@build_autoencoder.verdict
def _(student, reference):
    expect_equal(np.array(student["params"]), np.array(reference["params"]),
                 "the weight counts of (encoder, decoder, autoencoder) of "
                 "build_autoencoder(12, (8, 6), 3)")
    codes = expect_shape(student["codes"], (7, 3), "encoder(x)")
    expect_true(codes.min() < 0, "encoder(x) gives no negative code on random weights: the "
                "code layer must be linear (no activation)")
    recon = expect_shape(student["reconstruction"], (7, 12), "autoencoder(x)")
    expect_true(recon.min() >= 0 and recon.max() <= 1, "autoencoder(x) leaves [0, 1]: the "
                "decoder ends in a sigmoid")
    expect_close(student["reconstruction"], student["decoded"], "autoencoder(x)",
                 against="decoder(encoder(x)) (the three models must share their layers)")
    expect_close(student["codes"], reference["codes"], "encoder(x) on fixed random weights")
    expect_close(student["reconstruction"], reference["reconstruction"],
                 "autoencoder(x) on fixed random weights")


@check(points=1, uses="dec", timeout=40, task="`pretrain_autoencoder`",
       hint="compile(Adam(learning_rate), loss='mse'), then fit(x, x, epochs, batch_size, "
            "shuffle=True): the target is x itself")
def pretrain_autoencoder(lab, rng):
    """The checks' own small autoencoder on 256 digits, 4 epochs at learning rate 0.01: the
    compiled optimizer is Adam at that learning rate, and the logged loss is the MSE and falls
    like the reference's."""
    import keras

    from dlkit.data import load_digits
    x = load_digits("train", flatten=True)[0][:256]
    keras.utils.set_random_seed(int(rng.integers(0, 1000)))
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, "tanh"),
                              keras.layers.Dense(64, "sigmoid")])
    before = float(np.mean((np.asarray(model(x)) - x) ** 2))
    history = lab.dec.pretrain_autoencoder(model, x, epochs=4, batch_size=32,
                                           learning_rate=1e-2)
    losses = [float(v) for v in getattr(history, "history", {}).get("loss", [])]
    optimizer = getattr(model, "optimizer", None)
    try:
        rate = float(np.asarray(optimizer.learning_rate))
    except Exception:  # no optimizer, or a schedule: judged by the losses only
        rate = float("nan")
    return {"before": before, "losses": np.array(losses),
            "optimizer": type(optimizer).__name__, "learning_rate": rate,
            "after": float(np.mean((np.asarray(model(x)) - x) ** 2))}


@pretrain_autoencoder.verdict
def _(student, reference):
    losses = student["losses"]
    expect_true(len(losses) == 4, f"pretrain_autoencoder(epochs=4) returned a History with "
                f"{len(losses)} epochs of 'loss': return what fit returns")
    expect_true(student["optimizer"] in ("Adam", "NoneType"), f"pretrain_autoencoder compiled the model "
                f"with {student['optimizer']}: compile with keras.optimizers.Adam(learning_rate)")
    rate = student["learning_rate"]
    expect_true(not np.isfinite(rate) or np.isclose(rate, 0.01, rtol=1e-3),
                f"pretrain_autoencoder(learning_rate=0.01) compiled Adam with learning rate "
                f"{rate:.4g}: pass the argument on, keras.optimizers.Adam(learning_rate) (Adam() "
                "alone uses its default 0.001)")
    expect_true(abs(losses[-1] - reference["losses"][-1]) <= 0.25 * reference["losses"][-1],
                f"the last epoch's logged loss is {losses[-1]:.4f}, the reference logs "
                f"{reference['losses'][-1]:.4f}: the loss is the mean squared error ('mse'), "
                "trained for the given epochs and batch size")
    expect_true(student["after"] < 0.6 * student["before"],
                f"the reconstruction MSE went from {student['before']:.4f} to "
                f"{student['after']:.4f} only: fit x onto x with the mse loss")
    expect_true(student["after"] <= reference["after"] * 1.3 + 1e-3,
                f"after pretrain_autoencoder the reconstruction MSE is {student['after']:.4f}, "
                f"the reference reaches {reference['after']:.4f} (Adam at learning_rate, "
                "the mse loss, the given epochs and batch size)")


def _student_t_slips(z, centres, alpha):
    """q for the usual slips: no /2 in the exponent, no /alpha, distances not squared,
    columns normalised instead of rows."""
    squared = ((z[:, None, :] - centres[None]) ** 2).sum(-1)
    rows = lambda k: k / k.sum(1, keepdims=True)  # noqa: E731
    return [
        (rows((1 + squared / alpha) ** -(alpha + 1)),
         "the exponent is -(alpha + 1), it is -(alpha + 1) / 2"),
        (rows((1 + squared) ** (-(alpha + 1) / 2)), "the squared distance is not divided by "
                                                    "alpha"),
        (rows((1 + np.sqrt(squared) / alpha) ** (-(alpha + 1) / 2)),
         "uses the distance ||z - mu||, not its SQUARE"),
        ((1 + squared / alpha) ** (-(alpha + 1) / 2)
         / ((1 + squared / alpha) ** (-(alpha + 1) / 2)).sum(0, keepdims=True),
         "is normalised over the points (columns); each ROW (one point) must sum to 1"),
    ]


@check(points=2, uses="dec", task="`soft_assignment`",
       hint="q_ij proportional to (1 + ||z_i - mu_j||^2 / alpha) ** (-(alpha + 1) / 2), each "
            "row normalised to sum to 1")
def soft_assignment(lab, rng):
    """q for 9 codes and 4 centres in 3-D, with alpha = 1, 0.5 and 4."""
    z = rng.normal(size=(9, 3))
    centres = rng.normal(scale=1.5, size=(4, 3))
    out = {"z": z, "centres": centres}
    for alpha in (1.0, 0.5, 4.0):
        out[f"q_{alpha}"] = np.asarray(lab.dec.soft_assignment(
            tensor(z), tensor(centres), alpha))
    return out


@soft_assignment.verdict
def _(student, reference):
    for alpha in (1.0, 0.5, 4.0):
        what = f"soft_assignment(z, centres, alpha={alpha}) (9 codes, 4 centres)"
        q = expect_shape(student[f"q_{alpha}"], (9, 4), what)
        expect_close_naming(q, reference[f"q_{alpha}"], what,
                            _student_t_slips(student["z"], student["centres"], alpha),
                            rtol=1e-5, atol=1e-6)


@check(points=2, uses="dec", task="`target_distribution`",
       hint="p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'), f_j = sum over the POINTS of q_ij "
            "(a column sum)")
def target_distribution(lab, rng):
    """p from a q of 10 points over 4 clusters of very unequal sizes."""
    from scipy.special import softmax
    logits = rng.normal(size=(10, 4)) + np.array([2.0, 0.5, 0.0, -1.0])
    q = softmax(logits, axis=1)
    return {"q": q, "p": np.asarray(lab.dec.target_distribution(tensor(q)))}


@target_distribution.verdict
def _(student, reference):
    q = student["q"]
    what = "target_distribution(q) (10 points, 4 clusters)"
    p = expect_shape(student["p"], (10, 4), what)
    rows = lambda w: w / w.sum(1, keepdims=True)  # noqa: E731
    expect_close_naming(p, reference["p"], what, [
        (rows(q ** 2), "ignores the cluster frequencies (or divides by the ROW sums of q, "
                       "which are 1 for every point): divide q^2 by f_j = sum_i q_ij, a COLUMN "
                       "sum over the points, before normalising the rows"),
        (rows(q / q.sum(0)), "does not square q: the square is what sharpens the target"),
        ((q ** 2 / q.sum(0)) / (q ** 2 / q.sum(0)).sum(0), "is normalised over the points; "
                                                           "each ROW must sum to 1"),
    ], rtol=1e-5, atol=1e-6)


@check(points=2, uses="dec", task="`clustering_kl`",
       hint="mean over points of sum_j p log(p / q); p = tf.stop_gradient(p), so a p computed "
            "from q passes no gradient")
def clustering_kl(lab, rng):
    """The value for a fixed p against scipy's `rel_entr`; its gradient through a softmax
    when p itself is computed from q in the tape must be the analytic (q - p) / N of a
    FIXED target."""
    import tensorflow as tf
    from scipy.special import rel_entr, softmax
    logits = rng.normal(size=(8, 3))
    q = softmax(logits, axis=1)
    p = softmax(2.0 * rng.normal(size=(8, 3)), axis=1)
    value = float(lab.dec.clustering_kl(tensor(p), tensor(q)))
    variable = tf.Variable(logits.astype("float32"))
    with tf.GradientTape() as tape:
        q_t = tf.nn.softmax(variable, axis=1)
        p_t = q_t ** 2 / tf.reduce_sum(q_t ** 2, axis=1, keepdims=True)  # a target made of q
        loss = lab.dec.clustering_kl(p_t, q_t)
    gradient = tape.gradient(loss, variable)
    p_fixed = q ** 2 / (q ** 2).sum(1, keepdims=True)
    return {"value": value, "scipy": float(rel_entr(p, q).sum(1).mean()),
            "reversed": float(rel_entr(q, p).sum(1).mean()),
            "summed": float(rel_entr(p, q).sum()),
            "gradient": np.zeros_like(logits) if gradient is None else np.asarray(gradient),
            "analytic": (q - p_fixed) / len(q)}


@clustering_kl.verdict
def _(student, reference):
    what = "clustering_kl(p, q) (8 points, 3 clusters)"
    expect_close_naming(np.float64(student["value"]), np.float64(student["scipy"]), what, [
        (student["reversed"], "is KL(Q || P); DEC minimises KL(P || Q) = sum p log(p / q)"),
        (student["summed"], "is the SUM over the points; take the mean"),
    ], rtol=1e-4, atol=1e-6, against="scipy.special.rel_entr(p, q).sum(1).mean()")
    expect_close_naming(student["gradient"], student["analytic"],
                        "the gradient of clustering_kl(p(q), q) with respect to the logits of q",
                        [(np.zeros_like(student["analytic"]), "is zero or None: the loss must "
                          "depend on q through TensorFlow ops")],
                        advice="p is a TARGET: wrap it in tf.stop_gradient, so only q carries "
                               "the gradient ((q - p) / N through the softmax)",
                        rtol=1e-3, atol=1e-6, against="(q - p) / N with p held fixed")
    expect_close(student["value"], reference["value"], what)


def brute_force_accuracy(y_true, y_pred, pick=max):
    """The best accuracy over every one-to-one map of clusters to classes (small k only);
    with pick=min, the worst complete one (what a minimising matching finds)."""
    clusters, classes = np.unique(y_pred), np.unique(y_true)
    slots = list(classes) + [None] * max(0, len(clusters) - len(classes))
    hits = [sum(np.sum((y_pred == c) & (y_true == k)) for c, k in zip(clusters, image)
                if k is not None)
            for image in itertools.permutations(slots, len(clusters))
            if sum(k is not None for k in image) == min(len(clusters), len(classes))]
    return float(pick(hits)) / len(y_true)


def greedy_accuracy(y_true, y_pred):
    """What greedy matching finds: the largest remaining count first, its row and column
    struck out, until no cluster or class is left (a slip, not the best matching)."""
    clusters, classes = np.unique(y_pred), np.unique(y_true)
    left = np.array([[np.sum((y_pred == c) & (y_true == k)) for k in classes]
                     for c in clusters], dtype=float)
    hits = 0.0
    for _ in range(min(left.shape)):
        row, col = np.unravel_index(np.argmax(left), left.shape)
        hits += left[row, col]
        left[row, :] = -1
        left[:, col] = -1
    return hits / len(y_true)


ACCURACY_CASES = {
    # greedy matching takes cluster 0 -> class 0 (5) and loses; the best is 4 + 4
    "greedy_fails": ([0] * 5 + [1] * 4 + [0] * 4, [0] * 5 + [0] * 4 + [1] * 4),
    "relabelled": ([0, 0, 1, 1, 2, 2, 2, 3], [3, 3, 0, 0, 1, 1, 2, 2]),
    # greedy takes cluster 2 -> class 0 (5) and ends at 8 of 16; the best is 4 + 4 + 3; here
    # greedy, the worst matching and the unmatched accuracy all differ, so the slip is named
    "greedy_largest_first": ([0] * 5 + [1] * 4 + [0] * 4 + [2] * 3,
                             [2] * 5 + [2] * 4 + [0] * 4 + [1] * 3),
}


@check(points=2, uses="dec", reference=False, task="`cluster_accuracy`",
       hint="counts[c, k] = points of cluster c with class k; linear_sum_assignment(counts, "
            "maximize=True) (it MINIMISES by default); accuracy = matched counts / N")
def cluster_accuracy(lab, rng):
    """Against brute force over every matching: two cases where greedy matching fails, relabelled
    clusters, 3 clusters for 4 classes, 5 clusters with gaps in their ids for 3 classes."""
    cases = {name: (np.array(t), np.array(p)) for name, (t, p) in ACCURACY_CASES.items()}
    y_true = rng.integers(0, 4, size=40)
    cases["fewer_clusters"] = (y_true, np.where(rng.uniform(size=40) < 0.7, (y_true + 1) % 4 % 3,
                                                rng.integers(0, 3, size=40)))
    y_true = rng.integers(0, 3, size=30)
    ids = np.array([0, 2, 5, 7, 9])
    cases["more_clusters"] = (y_true, np.where(rng.uniform(size=30) < 0.6, ids[2 - y_true],
                                               ids[rng.integers(0, 5, size=30)]))
    return {name: {"accuracy": float(lab.dec.cluster_accuracy(t, p)),
                   "brute_force": brute_force_accuracy(t, p),
                   "worst": brute_force_accuracy(t, p, pick=min),
                   "greedy": greedy_accuracy(t, p),
                   "unmatched": float(np.mean(t == p))} for name, (t, p) in cases.items()}


@cluster_accuracy.verdict
def _(student, reference):
    failures = []
    for name, got in student.items():
        what = f"cluster_accuracy on the case {name!r}"
        slips = [(got["worst"], "is the WORST matching's accuracy: linear_sum_assignment "
                                "minimises by default; the best matching MAXIMISES the matched "
                                "counts (maximize=True)"),
                 (got["greedy"], "is what GREEDY matching gives (the largest count first, "
                                 "then the next free one): greedy is not the best one-to-one "
                                 "matching; use the Hungarian algorithm, "
                                 "linear_sum_assignment(counts, maximize=True)"),
                 (got["unmatched"], "is the plain accuracy mean(y_true == y_pred): match the "
                                    "clusters to the classes first (Hungarian)")]
        # Name a slip from a case where only that slip gives the student's answer.
        matching = [pair for pair in slips if np.isclose(got["accuracy"], pair[0])]
        try:
            expect_close_naming(np.float64(got["accuracy"]), np.float64(got["brute_force"]),
                                what, matching if len(matching) == 1 else [],
                                advice="the best one-to-one matching: the Hungarian algorithm, "
                                       "linear_sum_assignment(counts, maximize=True) (it "
                                       "minimises by default; greedy matching is not enough)",
                                rtol=1e-9, atol=1e-9, against="the best accuracy over every "
                                                              "matching")
        except CheckFailed as failure:
            failures.append((len(matching) != 1, str(failure)))
    if failures:
        raise CheckFailed(sorted(failures)[0][1])


NMI_CASES = ("random", "relabelled", "unequal", "single_cluster", "both_constant")


@check(points=2, uses="dec", reference=False, task="`normalized_mutual_info`",
       hint="I(Y; C) / ((H(Y) + H(C)) / 2): the ARITHMETIC mean of the entropies, natural logs, "
            "from the joint distribution")
def normalized_mutual_info(lab, rng):
    """Against scikit-learn's `normalized_mutual_info_score` (arithmetic mean): random
    labelings, a relabelled copy, labelings of very different entropies, one cluster, and both
    labelings constant (1.0, as the docstring says)."""
    from sklearn.metrics import normalized_mutual_info_score
    y = rng.integers(0, 4, size=60)
    cases = {"random": (y, rng.integers(0, 5, size=60)),
             "relabelled": (y, np.array([7, 3, 1, 0])[y]),
             "unequal": (y, np.where(rng.uniform(size=60) < 0.8, (y > 1).astype(int), 0)),
             "single_cluster": (y, np.zeros(60, dtype=int)),
             "both_constant": (np.full(60, 3), np.zeros(60, dtype=int))}
    out = {}
    for name in NMI_CASES:
        t, p = cases[name]
        with np.errstate(all="ignore"):  # 0/0 in a student's NMI is judged, not warned about
            nmi = float(lab.dec.normalized_mutual_info(t, p))
        out[name] = {"nmi": nmi,
                     "sklearn": float(normalized_mutual_info_score(t, p)),
                     **{method: float(normalized_mutual_info_score(t, p, average_method=method))
                        for method in ("geometric", "max", "min")}}
    return out


@normalized_mutual_info.verdict
def _(student, reference):
    for name in NMI_CASES:
        got = student[name]
        if name == "both_constant":
            expect_true(np.isclose(got["nmi"], 1.0), f"normalized_mutual_info of two constant "
                        f"labelings is {got['nmi']}: there H(Y) = H(C) = I = 0 and the ratio "
                        "is 0/0; return 1.0 in that case, as the docstring (and scikit-learn) "
                        "says")
        expect_close_naming(np.float64(got["nmi"]), np.float64(got["sklearn"]),
                            f"normalized_mutual_info on the case {name!r}", [
            (got["geometric"], "normalises by sqrt(H(Y) H(C)) (the geometric mean); use the "
                               "arithmetic mean (H(Y) + H(C)) / 2"),
            (got["max"], "normalises by max(H(Y), H(C)); use (H(Y) + H(C)) / 2"),
            (got["min"], "normalises by min(H(Y), H(C)); use (H(Y) + H(C)) / 2")],
            rtol=1e-6, atol=1e-9, against="sklearn.metrics.normalized_mutual_info_score")
