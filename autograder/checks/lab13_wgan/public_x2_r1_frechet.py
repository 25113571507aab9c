"""Public checks of lab13_wgan, part 6: the R1 penalty and its GAN's critic step
(regularizers.py), and the Fréchet distance (quality.py).

Independent references: each example's input gradient by tf.GradientTape.batch_jacobian
on a check-defined critic (R1), scipy.linalg.sqrtm and the closed form of diagonal
Gaussians (Fréchet), numpy's np.cov, and scikit-learn's MLPClassifier as the feature
extractor that ranks generators.
"""
import contextlib

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import (
    assign_random_weights,
    frechet_of_gaussians,
    quiet_sqrtm,
    standing_in,
    tensor,
)
from autograder.checks.lab13_wgan.probes import (
    SGD_RATE,
    fix_noise,
    flat,
    gradient_wrt,
    mlp,
    probe_networks,
    run_step,
    scalar,
    standin_fgan_critic_loss,
    standin_losses,
    step_outputs,
    weights_of,
)
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_true,
    expect_update,
)

R1 = ("regularizers", "wgan_model", "wgan_losses", "fgan_losses")
QUALITY = ("quality",)
GAMMA = 3.0


def batch_gradients(critic, x):
    """Each example's input gradient of the critic's score, from the check's own tape
    (batch_jacobian: one Jacobian block per example), with the shape of x."""
    import tensorflow as tf
    x = tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        scores = critic(x)
    return tape.batch_jacobian(scores, x).numpy().reshape(x.shape)


def r1_probe(lab, critic, x):
    import tensorflow as tf
    x = tensor(x)
    with tf.GradientTape() as tape:
        penalty = lab.regularizers.r1_penalty(critic, x, GAMMA)
    if penalty is None:
        raise ValueError("r1_penalty returned None (is a `return` missing?)")
    grads = tape.gradient(penalty, critic.trainable_variables)
    return {"penalty": scalar(penalty, "r1_penalty"), "gradients": batch_gradients(critic, x),
            "weight_gradient": flat([np.zeros(v.shape) if g is None else g.numpy()
                                     for v, g in zip(critic.trainable_variables, grads)])}


def judge_r1(student, reference, what):
    grads = np.asarray(student["gradients"], dtype=np.float64)
    squared = (grads.reshape(len(grads), -1) ** 2).sum(axis=1)
    norms = np.sqrt(squared)
    expected = GAMMA / 2 * squared.mean()
    mistakes = [
        (squared.mean(), "is mean ||grad||^2 without gamma / 2"),
        (GAMMA * squared.mean(), "is gamma * mean ||grad||^2: R1 is gamma / 2 times it"),
        (GAMMA / 2 * norms.mean(), "is gamma / 2 * mean ||grad||: square the norm"),
        (GAMMA / 2 * ((norms - 1) ** 2).mean(), "is the WGAN-GP form (||grad|| - 1)^2; R1 "
                                                "is ||grad||^2, pushed to 0 on real data"),
        (len(grads) * expected, "sums over the batch; take the mean"),
    ]
    if grads.ndim > 2:
        mistakes += [
            (GAMMA / 2 * (grads ** 2).sum(axis=-1).mean(),
             "takes the squared norm over the last axis only (then the mean over the other "
             "axes); the norm of each example runs over every axis but the batch axis"),
            (GAMMA / 2 * (grads ** 2).sum(axis=1).mean(),
             "takes the squared norm over axis 1 only (then the mean over the other axes); "
             "the norm of each example runs over every axis but the batch axis"),
        ]
    expect_close_naming(student["penalty"], expected, what, mistakes,
                        against="gamma / 2 * mean ||grad||^2 of the check's own tape",
                        rtol=1e-4, atol=1e-6)
    gradient = np.asarray(student["weight_gradient"], dtype=np.float64)
    expect_true(np.abs(gradient).max() > 0, f"{what}: no gradient flows back to the critic's "
                "weights; keep the inner tape's gradient in the graph (no stop_gradient, no "
                "numpy)")
    expect_close(gradient, reference["weight_gradient"], f"the gradient of {what} w.r.t. the "
                 "critic's weights (double backpropagation)", rtol=1e-3, atol=1e-5)


@check(points=2, uses=R1, task="`r1_penalty`",
       hint="an inner tape watching the real batch; grads = tape.gradient(scores, real); the "
            "squared L2 norm per example over all its other axes; gamma / 2 * the mean")
def r1_penalty(lab, rng):
    """R1 with gamma = 3 of a tanh critic on (24, 2) points and of a critic on (6, 3, 3, 2)
    images, against gamma / 2 * mean ||grad||^2 from the check's own batch_jacobian, and its
    gradient w.r.t. the critic's weights against the reference's; the message names a
    missing gamma / 2, a missing square, (||grad|| - 1)^2, a sum, and a norm over the last
    axis (or axis 1) only."""
    import keras
    points_critic = mlp(2, 1, hidden_units=16, activation="tanh", name="probe_critic")
    images_critic = keras.Sequential([keras.Input((3, 3, 2)), keras.layers.Flatten(),
                                      keras.layers.Dense(8, activation="tanh"),
                                      keras.layers.Dense(1)])
    return {"points": r1_probe(lab, points_critic, 1.5 * rng.normal(size=(24, 2))),
            "images": r1_probe(lab, images_critic, rng.normal(size=(6, 3, 3, 2)))}


@r1_penalty.verdict
def _(student, reference):
    judge_r1(student["points"], reference["points"], "r1_penalty(critic, real, gamma=3)")
    judge_r1(student["images"], reference["images"],
             "r1_penalty(critic, real, gamma=3) on (6, 3, 3, 2) images")


# ------------------------------------------------------------------ the R1 GAN's critic step

def standin_r1(record):
    """A penalty of known behaviour, not R1: gamma * mean (score - 0.5)^2 at the points it
    is given; it records the sum of those points and gamma."""
    def penalty(critic, x, gamma):
        import tensorflow as tf
        record.append([float(tf.reduce_sum(x)), float(gamma)])
        return gamma * tf.reduce_mean(tf.square(critic(x, training=True) - 0.5))
    return penalty


@check(points=2, uses=R1, task="`R1GAN.critic_step`",
       hint="R1GAN.critic_step: as WGAN's, with penalty = r1_penalty(self.critic, real, "
            "self.r1_gamma) (the real batch, not the fakes or interpolates) and total = loss "
            "+ penalty inside the tape")
def r1gan_critic_step(lab, rng):
    """One critic step of R1GAN(r1_gamma=4) with a stand-in penalty and stand-in losses,
    fixed noise and SGD: the update is the reference's (the penalty at the real batch,
    added as it is), the generator does not change, and the loss and penalty it returns are
    the reference's."""
    record = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(standin_losses(lab))
        stack.enter_context(standing_in(lab.regularizers, r1_penalty=standin_r1(record)))
        generator, critic = probe_networks(activation="tanh")
        for network in (generator, critic):
            assign_random_weights(network, rng, scale=0.3)
        import keras
        model = lab.regularizers.R1GAN(generator, critic, latent_dim=2, r1_gamma=4.0)
        model.compile(critic_optimizer=keras.optimizers.SGD(SGD_RATE),
                      generator_optimizer=keras.optimizers.SGD(SGD_RATE))
        real = tensor(rng.normal(size=(40, 2)) + [2.0, 0.0])
        z = tensor(rng.normal(size=(40, 2)))
        points = tensor(rng.uniform(-1.0, 3.0, size=(40, 2)))
        fix_noise(model, z, points)
        fake = generator(z)
        variables = critic.trainable_variables
        unrecorded = standin_r1([])

        def loss():
            return standin_fgan_critic_loss(critic(real), critic(fake), "js")
        mistakes = {name: gradient_wrt(variables, lambda x=x, gamma=gamma: (
            loss() + unrecorded(critic, x, gamma))) for name, x, gamma in (
                ("at_fakes", fake, 4.0), ("at_interpolates", points, 4.0),
                ("gamma_twice", real, 16.0))}
        mistakes["without_penalty"] = gradient_wrt(variables, loss)
        g_before, c_before = weights_of(generator), weights_of(critic)
        loss, penalty = step_outputs(run_step("R1GAN.critic_step", model.critic_step, real),
                                     "R1GAN.critic_step")
        return {"loss": loss, "penalty": penalty, "mistakes": mistakes, "given": record,
                "real_sum": float(np.sum(real)),
                "update": (c_before - weights_of(critic)) / SGD_RATE,
                "generator_change": float(np.abs(weights_of(generator) - g_before).max())}


R1_EXPLANATIONS = {
    "at_fakes": "the penalty is taken at the fakes; R1 is taken at the real batch",
    "at_interpolates": "the penalty is taken at interpolates (that is WGAN-GP); R1 is taken at "
                       "the real batch",
    "gamma_twice": "gamma is applied twice: r1_penalty already holds gamma / 2, so the total "
                   "is loss + penalty",
    "without_penalty": "the update ignores the penalty: compute it inside the critic's tape "
                       "and add it to the loss",
}


@r1gan_critic_step.verdict
def _(student, reference):
    what = "R1GAN.critic_step (r1_gamma=4)"
    expect_true(student["generator_change"] == 0,
                f"{what} changed the generator's weights: a critic step updates the critic only")
    expect_true(len(student["given"]) > 0, f"{what} never calls r1_penalty(self.critic, real, "
                "self.r1_gamma) (a check's stand-in here)")
    for total, gamma in student["given"]:
        expect_true(np.isclose(total, student["real_sum"], rtol=1e-4, atol=1e-3),
                    f"{what} called r1_penalty on points that are not the real batch: R1 is "
                    "taken at the real samples only")
        expect_true(np.isclose(gamma, 4.0), f"{what} called r1_penalty with gamma={gamma:g}; "
                    "pass self.r1_gamma")
    explanations = {name: message for name, message in R1_EXPLANATIONS.items()
                    if not np.allclose(student["mistakes"][name], reference["update"],
                                       rtol=1e-3, atol=1e-5)}
    expect_update(np.asarray(student["update"], dtype=np.float64), reference["update"],
                  f"the critic's update in {what} (plain SGD, divided by its learning rate)",
                  "the critic's total loss is self.critic_objective(real_scores, fake_scores) + "
                  "r1_penalty(self.critic, real, self.r1_gamma), inside the critic's tape",
                  student["mistakes"], explanations)
    expect_close(student["loss"], reference["loss"], f"the loss {what} returns (without the "
                 "penalty)", rtol=1e-4, atol=1e-6)
    expect_close(student["penalty"], reference["penalty"], f"the penalty {what} returns",
                 rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------ Fréchet distance

def psd(rng, dim, scale=1.0):
    a = rng.normal(size=(dim, dim))
    return scale * (a @ a.T / dim + 0.1 * np.eye(dim))


@check(points=1, uses=QUALITY, task="`feature_statistics`",
       hint="mean over the rows (axis 0); the covariance of the columns, divided by N - 1")
def feature_statistics(lab, rng):
    """Mean and covariance of (50, 4) features, against np.mean and np.cov; the message
    names a covariance divided by N, one of uncentred rows (X^T X) and one of the rows
    (N x N)."""
    features = rng.normal(size=(50, 4)) @ rng.normal(size=(4, 4)) + rng.normal(size=4)
    result = lab.quality.feature_statistics(features)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError(f"feature_statistics returned {type(result).__name__}; expected a "
                         "pair (mean, covariance)")
    return {"features": features, "mean": np.asarray(result[0], dtype=np.float64),
            "cov": np.asarray(result[1], dtype=np.float64)}


@feature_statistics.verdict
def _(student, reference):
    features = np.asarray(reference["features"], dtype=np.float64)
    expect_close(student["mean"], features.mean(axis=0), "the mean of feature_statistics",
                 against="np.mean(features, axis=0)")
    cov = np.asarray(student["cov"])
    expect_true(cov.shape == (4, 4), f"the covariance of (50, 4) features has shape "
                f"{cov.shape}, expected (4, 4): the covariance of the columns (np.cov(features, "
                "rowvar=False)), not of the rows")
    raw = features.T @ features
    expect_close_naming(cov, np.cov(features, rowvar=False), "the covariance of "
                        "feature_statistics", [
                            (np.cov(features, rowvar=False, bias=True),
                             "divides by N; the unbiased covariance divides by N - 1"),
                            (raw / (len(features) - 1), "is X^T X / (N - 1) of the raw rows: "
                             "centre them first (subtract the mean of each column)"),
                            (raw / len(features), "is X^T X / N of the raw rows: centre them "
                             "first (subtract the mean of each column) and divide by N - 1")],
                        against="np.cov(features, rowvar=False)")


@check(points=2, uses=QUALITY, task="`frechet_distance`",
       hint="||mean_a - mean_b||^2 + Tr(A) + Tr(B) - 2 Tr((A B)^(1/2)) with a MATRIX square "
            "root: scipy.linalg.sqrtm(A @ B).real, or the eigenvalues of A^(1/2) B A^(1/2), "
            "clipped at 0 before the square root")
def frechet_distance(lab, rng):
    """On diagonal Gaussians (closed form), on random 5-D Gaussians whose covariances do not
    commute (against scipy.linalg.sqrtm), both ways round (symmetric), on identical
    statistics (0), and both ways round between a 6-D Gaussian and one whose covariance has
    rank 2 (features that span a plane); the message names an elementwise square root,
    Tr(A^(1/2) B^(1/2)), a missing factor 2, an unsquared mean gap, eigvalsh of the
    non-symmetric A B, and a NaN from unclipped tiny negative eigenvalues."""
    fn = lab.quality.frechet_distance
    diagonal = [rng.normal(size=3), np.diag(rng.uniform(0.2, 2, 3)), rng.normal(size=3),
                np.diag(rng.uniform(0.2, 2, 3))]
    full = [rng.normal(size=5), psd(rng, 5), rng.normal(size=5), psd(rng, 5, 2.0)]
    planar = rng.normal(size=(40, 2)) @ rng.normal(size=(2, 6)) + rng.normal(size=6)
    low_rank = [rng.normal(size=6), psd(rng, 6), planar.mean(axis=0),
                np.cov(planar, rowvar=False)]
    return {"diagonal": diagonal, "full": full, "low_rank": low_rank,
            "fd_diagonal": scalar(fn(*diagonal), "frechet_distance on diagonal Gaussians"),
            "fd_full": scalar(fn(*full), "frechet_distance(mean_a, cov_a, mean_b, cov_b)"),
            "fd_swapped": scalar(fn(*full[2:], *full[:2]), "frechet_distance(b, a)"),
            "fd_same": scalar(fn(*full[:2], *full[:2]), "frechet_distance(a, a)"),
            "fd_low_rank": [distance_or_nan(fn, args, "frechet_distance with a rank-2 "
                                            "covariance") for args in (low_rank, low_rank[2:]
                                                                       + low_rank[:2])]}


def frechet_mistakes(mean_a, cov_a, mean_b, cov_b):
    gap = np.sum((mean_a - mean_b) ** 2)
    traces = np.trace(cov_a) + np.trace(cov_b)
    roots = np.trace(quiet_sqrtm(cov_a @ cov_b))
    product = "takes the eigenvalues of cov_a @ cov_b with eigvalsh (or eigh), which assume " \
              "a symmetric matrix and read one triangle only; A B is not symmetric: take " \
              "those of the symmetric A^(1/2) B A^(1/2), or sqrtm(A @ B)"
    return [
        (gap + traces - 2 * np.sum(np.sqrt(np.abs(np.diag(cov_a @ cov_b)))),
         "takes the square root of cov_a @ cov_b elementwise; it is a matrix square root"),
        (gap + traces - 2 * np.trace(np.sqrt(np.abs(cov_a @ cov_b))),
         "takes the square root of cov_a @ cov_b elementwise; it is a matrix square root"),
        (gap + traces - 2 * np.trace(quiet_sqrtm(cov_a) @ quiet_sqrtm(cov_b)),
         "is Tr(A^(1/2) B^(1/2)), right only when A and B commute; take Tr((A B)^(1/2))"),
        (gap + traces - roots, "misses the factor 2 of Tr((A B)^(1/2))"),
        (np.sqrt(gap) + traces - 2 * roots, "adds ||mean_a - mean_b||, not its square"),
    ] + [(gap + traces - 2 * np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(cov_a @ cov_b, side),
                                                     0.0, None))), product)
         for side in ("L", "U")]


CLIP = ("a square root of a tiny negative eigenvalue? Rounding leaves eigenvalues like -1e-17 "
        "where a rank-deficient covariance has 0: clip the eigenvalues to 0 before np.sqrt "
        "(or take sqrtm's real part)")


def distance_or_nan(fn, args, what):
    """The student's distance, NaN when numpy's eigensolver failed on NaN (a square root of
    a negative eigenvalue fed to the next eigendecomposition)."""
    try:
        return scalar(fn(*args), what)
    except np.linalg.LinAlgError:
        return np.float64(np.nan)


def expect_no_nan(value, what):
    if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
        raise CheckFailed(f"{what} is NaN (or numpy's eigensolver failed on NaN): {CLIP}")


@frechet_distance.verdict
def _(student, reference):
    mean_a, cov_a, mean_b, cov_b = (np.asarray(a, dtype=np.float64)
                                    for a in reference["diagonal"])
    closed = float(np.sum((mean_a - mean_b) ** 2)
                   + np.sum((np.sqrt(np.diag(cov_a)) - np.sqrt(np.diag(cov_b))) ** 2))
    expect_close_naming(student["fd_diagonal"], closed, "frechet_distance on 3-D Gaussians with "
                        "diagonal covariances", frechet_mistakes(mean_a, cov_a, mean_b, cov_b),
                        against="sum (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2 (the closed form)",
                        rtol=1e-5, atol=1e-8)
    full = [np.asarray(a, dtype=np.float64) for a in reference["full"]]
    expect_close_naming(student["fd_full"], frechet_of_gaussians(*full), "frechet_distance on 5-D "
                        "Gaussians whose covariances do not commute", frechet_mistakes(*full),
                        against="the same formula with scipy.linalg.sqrtm", rtol=1e-5,
                        atol=1e-8)
    expect_close(student["fd_swapped"], student["fd_full"], "frechet_distance(b, a)",
                 against="frechet_distance(a, b) (the distance is symmetric)", rtol=1e-5,
                 atol=1e-8)
    expect_close(student["fd_same"], 0.0, "frechet_distance(a, a)", against="0 (identical "
                 "Gaussians)", atol=1e-6)
    low_rank = [np.asarray(a, dtype=np.float64) for a in reference["low_rank"]]
    for fd, args, order in zip(student["fd_low_rank"], (low_rank, low_rank[2:] + low_rank[:2]),
                               ("(a, b)", "(b, a)")):
        what = f"frechet_distance{order} where b's covariance (6 x 6) has rank 2"
        expect_no_nan(fd, what)
        expect_close_naming(fd, frechet_of_gaussians(*args), what, frechet_mistakes(*args),
                            against="the same formula with scipy.linalg.sqrtm", rtol=1e-5,
                            atol=1e-6)


@check(points=1, uses=QUALITY, task="`frechet_distance`, on features",
       hint="frechet_distance of the features' statistics (here the check's np.mean and np.cov, "
            "so only frechet_distance is graded); ReLU features with dead units have a "
            "rank-deficient covariance: clip tiny negative eigenvalues to 0; a generator that "
            "misses modes must score worse")
def frechet_distance_ranks_generators(lab, rng):
    """On the 16 hidden ReLU features of a scikit-learn MLP trained here to tell the ring's 8
    modes apart: your frechet_distance, given the check's own statistics (np.mean, np.cov)
    of held-out data and of a fresh sample of the ring, a ring with a wider spread, 4 of its
    8 modes and 1 mode, against scipy.linalg.sqrtm on the same statistics, rising in that
    order."""
    from sklearn.neural_network import MLPClassifier

    from dlkit.data import sample_toy2d, toy2d_modes
    seed = int(rng.integers(1 << 30))
    modes = toy2d_modes("ring")

    def labels(points):
        return np.argmin(np.linalg.norm(points[:, None] - modes[None], axis=-1), axis=1)
    train = sample_toy2d("ring", 1500, seed=seed, noise=0.5)
    classifier = MLPClassifier((16,), max_iter=300, random_state=0).fit(train, labels(train))

    def features(points):
        return np.maximum(points @ classifier.coefs_[0] + classifier.intercepts_[0], 0.0)
    ring = sample_toy2d("ring", 3000, seed=seed + 1)
    sets = {"data": ring[:1000], "fresh": sample_toy2d("ring", 1000, seed=seed + 2),
            "wider": sample_toy2d("ring", 1000, seed=seed + 3, noise=0.3),
            "four_modes": ring[labels(ring) < 4][:500], "one_mode": ring[labels(ring) == 0][:300]}
    stats = {name: [np.mean(features(points), axis=0), np.cov(features(points), rowvar=False)]
             for name, points in sets.items()}
    names = ["fresh", "wider", "four_modes", "one_mode"]
    return {"names": names, "stats": stats,
            "fd": [distance_or_nan(lab.quality.frechet_distance,
                                   stats["data"] + stats[name], f"frechet_distance(data, {name})")
                   for name in names]}


@frechet_distance_ranks_generators.verdict
def _(student, reference):
    stats = {name: [np.asarray(a, dtype=np.float64) for a in pair]
             for name, pair in student["stats"].items()}
    expected = [frechet_of_gaussians(*stats["data"], *stats[name]) for name in student["names"]]
    what = ("frechet_distance of held-out ring data to a fresh sample, a wider ring, 4 modes "
            "and 1 mode (the statistics of a classifier's ReLU features, given by the check)")
    expect_no_nan(student["fd"], what)
    expect_close(student["fd"], expected, what, against="the same formula with "
                 "scipy.linalg.sqrtm on the same statistics", rtol=1e-4, atol=1e-6)
    expect_equal(list(np.argsort(student["fd"])), [0, 1, 2, 3],
                 "the order of the Fréchet distances (fresh < wider < 4 modes < 1 mode)")
