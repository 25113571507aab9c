"""Public checks of lab11_vae, part 5: probabilistic PCA (ppca.py).

Independent references: scikit-learn's PCA (its noise_variance_, components_ and
explained_variance_ are the PPCA maximum-likelihood solution, and its score_samples is the
PPCA log-likelihood; it divides the covariance by N - 1, so it is fitted to the centred
data scaled by sqrt((N - 1) / N), which has the lab's (1/N) covariance), scipy's
multivariate_normal.logpdf, and the posterior mean by Gaussian conditioning,
W^T C^-1 (x - mean), a different formula from the lab's M^-1 W^T (x - mean). W is compared
column by column up to each column's sign. score_samples, transform and sample are judged
on a PPCA whose attributes the check sets, so a slip in fit costs fit's checks only.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_finite,
    expect_shape,
    expect_true,
)

PPCA = "ppca"
# ppca_maximum_likelihood: q and the dequantisation of the digits (as in the notebook).
DIGITS_Q = 10
NON_FINITE_CAUSE = ("Usually W comes from the SMALLEST eigenvalues (np.linalg.eigh sorts them "
                    "increasing: reverse them), so lambda_j - sigma^2 < 0 and its square root "
                    "is NaN; sigma^2 is the mean of the D - q smallest, W = U_q "
                    "sqrt(L_q - sigma^2 I) with the q largest")


def _sklearn_ml(x, q):
    """scikit-learn's PCA fitted to x rescaled so its (N - 1) covariance is x's (1/N) one."""
    from sklearn.decomposition import PCA
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    shrunk = mean + (x - mean) * np.sqrt((len(x) - 1) / len(x))
    return PCA(q, svd_solver="full").fit(shrunk)


def _sklearn_weights(model):
    """W = components^T sqrt(explained_variance - noise_variance): (D, q)."""
    return model.components_.T * np.sqrt(model.explained_variance_ - model.noise_variance_)


def _hand_made(lab, rng, d=5, q=2, noise_variance=0.5):
    """A PPCA(q) whose attributes the check sets: W with columns of norm ~1.5, a mean away
    from 0, and sigma^2 large enough that it matters in M and C."""
    model = lab.ppca.PPCA(q)
    model.mean_ = rng.normal(size=d) + 1.0
    model.weights_ = rng.normal(size=(d, q)) * 0.8
    model.noise_variance_ = float(noise_variance)
    return model


def _attributes(model):
    return {"mean": model.mean_, "weights": model.weights_, "noise_variance": model.noise_variance_}


# ---------------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=PPCA, reference=False, task="`PPCA.fit` (ppca.py)",
       hint="S = centred^T centred / N; eigh gives INCREASING eigenvalues: reverse them; "
            "sigma^2 = mean of the D - q smallest; W = U_q * sqrt(lambda_q - sigma^2)")
def ppca_fit(lab, rng):
    """`PPCA(2).fit(x)` on 40 correlated examples (D = 6, mean away from 0) against
    scikit-learn's PCA: mean_, noise_variance_ and each column of weights_ (up to its sign).
    scikit-learn divides by N - 1; the check rescales its values to the maximum-likelihood
    1/N, so your sigma^2 and lambda_j are (N - 1)/N times those of `PCA` itself."""
    n, d = 40, 6
    mixing = np.linalg.qr(rng.normal(size=(d, d)))[0] * np.array([3.0, 2.0, 1.2, 0.8, 0.5, 0.3])
    x = rng.normal(size=(n, d)) @ mixing.T + rng.normal(size=d) * 2.0
    model = lab.ppca.PPCA(2)
    returned = model.fit(x)
    return {"x": x, **_attributes(model), "returns_self": returned is model}


@ppca_fit.verdict
def _(student, _reference):
    x = np.asarray(student["x"], np.float64)
    n, d = x.shape
    q = 2
    expect_true(student["returns_self"], "PPCA.fit(x) must return self")
    for key in ("mean", "weights", "noise_variance"):
        expect_true(student[key] is not None, f"PPCA.fit left {key}_ unset (None)")
    sk = _sklearn_ml(x, q)
    full = _sklearn_ml(x, d)
    eigenvalues = full.explained_variance_                  # decreasing, dividing by N
    unbiased = eigenvalues * n / (n - 1)                    # dividing by N - 1
    expect_close(student["mean"], x.mean(axis=0), "PPCA(2).fit(x).mean_", rtol=1e-9, atol=1e-9)
    expect_close_naming(
        np.asarray(student["noise_variance"], np.float64), sk.noise_variance_,
        "PPCA(2).fit(x).noise_variance_ (sigma^2)", mistakes=(
            (unbiased[q:].mean(), "the covariance divided by N - 1; the maximum-likelihood S "
                                  "divides by N"),
            (eigenvalues.mean(), "the mean of ALL the eigenvalues: sigma^2 is the mean of the "
                                 "D - q DISCARDED ones"),
            (eigenvalues[:q].mean(), "the mean of the KEPT eigenvalues: sigma^2 is the mean of "
                                     "the D - q discarded ones"),
            (eigenvalues[q:].sum(), "the SUM of the discarded eigenvalues: take their mean"),
            (eigenvalues[q:].sum() / d, "the sum of the discarded eigenvalues divided by D: "
                                        "their mean divides by their number, D - q"),
            (eigenvalues[:d - q].mean(), "eigenvalues in increasing order (np.linalg.eigh's): "
                                         "reverse them so the first q are the largest")),
        rtol=1e-7, atol=1e-10)
    weights = np.asarray(student["weights"], np.float64)
    if weights.shape == (q, d):
        raise CheckFailed(f"PPCA(2).fit(x).weights_ has shape {weights.shape}: W is (D, q), "
                          "one column per latent dimension")
    expect_shape(weights, (d, q), "PPCA(2).fit(x).weights_")
    expected = _sklearn_weights(sk)
    # Each column up to its sign; every mistake is aligned the same way.
    signs = np.where(np.sum(weights * expected, axis=0) < 0, -1.0, 1.0)
    directions = sk.components_.T
    smallest = full.components_[::-1][:q].T
    mistakes = (
        (directions * np.sqrt(eigenvalues[:q]), "each column is sqrt(lambda_j) u_j: subtract "
                                                "sigma^2 first, sqrt(lambda_j - sigma^2) u_j"),
        (directions * (eigenvalues[:q] - sk.noise_variance_), "each column is "
         "(lambda_j - sigma^2) u_j: take the SQUARE ROOT, sqrt(lambda_j - sigma^2) u_j"),
        (directions * np.sqrt(unbiased[:q] - unbiased[q:].mean()), "the covariance divided "
         "by N - 1; the maximum-likelihood S divides by N"),
        (directions, "the columns are the unit eigenvectors: scale each by "
                     "sqrt(lambda_j - sigma^2)"),
    )
    student_aligned = weights * signs
    aligned = (student_aligned, *(wrong * np.where(
        np.sum(wrong * student_aligned, axis=0) < 0, -1.0, 1.0) for wrong, _ in mistakes))
    if np.allclose(np.abs(np.sum(weights / np.linalg.norm(weights, axis=0)
                                 * smallest, axis=0)), 1.0, atol=1e-6):
        raise CheckFailed("PPCA(2).fit(x).weights_: its columns are along the eigenvectors of "
                          "the SMALLEST eigenvalues (np.linalg.eigh sorts them increasing): "
                          "reverse the order")
    expect_close_naming(aligned[0], expected, "PPCA(2).fit(x).weights_ (each column up to its "
                        "sign)", [(a, m) for a, (_, m) in zip(aligned[1:], mistakes)],
                        rtol=1e-6, atol=1e-8)


@check(points=1, uses=PPCA, timeout=40, task="`PPCA.fit` (maximum likelihood)",
       hint="the maximum-likelihood sigma^2 and W: any other W (scaled, perturbed) or sigma^2 "
            "must score lower on the training data")
def ppca_maximum_likelihood(lab, rng):
    """`PPCA(10)` fitted to the dequantised digits: its mean training log-likelihood (scipy)
    beats W scaled by 0.9 and 1.1, W plus noise, and sigma^2 times 0.8 and 1.2, equals that
    of W R for a random rotation R, and matches the reference's; the test log-likelihood."""
    from scipy.stats import multivariate_normal

    from dlkit.data import load_digits
    dequantize = np.random.default_rng(0)
    train = load_digits("train", flatten=True)[0].astype(np.float64)
    train = train + dequantize.uniform(0, 1 / 16, train.shape)
    test = load_digits("test", flatten=True)[0].astype(np.float64)
    test = test + dequantize.uniform(0, 1 / 16, test.shape)
    model = lab.ppca.PPCA(DIGITS_Q).fit(train)
    mean = np.asarray(model.mean_, np.float64)
    weights = np.asarray(model.weights_, np.float64)
    noise = float(model.noise_variance_)
    # What stops the scoring is returned, and the verdict says it (a probe that raises
    # reads as a crash of the student's code).
    fitted = f"PPCA({DIGITS_Q}).fit(digits)"
    if weights.shape != (64, DIGITS_Q):
        return {"problem": f"{fitted}.weights_ has shape {weights.shape}, expected "
                           f"(64, {DIGITS_Q})"}
    for name, value in (("mean_", mean), ("weights_", weights), ("noise_variance_", noise)):
        bad = int(np.sum(~np.isfinite(value)))
        if bad:
            return {"problem": f"{fitted}.{name} contains NaN or inf ({bad} of "
                               f"{np.size(value)} entries), so its log-likelihood is not "
                               f"finite. {NON_FINITE_CAUSE}"}

    def score(w, s2, x=train):
        return float(multivariate_normal(mean, w @ w.T + s2 * np.eye(64),
                                         allow_singular=True).logpdf(x).mean())

    rotation = np.linalg.qr(rng.normal(size=(DIGITS_Q, DIGITS_Q)))[0]
    noisy = weights + 0.05 * np.std(weights) * rng.normal(size=weights.shape)
    try:
        return {"train": score(weights, noise), "test": score(weights, noise, test),
                "rotated": score(weights @ rotation, noise),
                "perturbed": {"W scaled by 0.9": score(0.9 * weights, noise),
                              "W scaled by 1.1": score(1.1 * weights, noise),
                              "W plus small noise": score(noisy, noise),
                              "sigma^2 times 0.8": score(weights, 0.8 * noise),
                              "sigma^2 times 1.2": score(weights, 1.2 * noise)}}
    except (ValueError, np.linalg.LinAlgError) as error:
        return {"problem": f"the log-likelihood of {fitted} cannot be computed ({error}): "
                           f"C = W W^T + sigma^2 I is not a valid covariance (sigma^2 = "
                           f"{noise:.4g}). {NON_FINITE_CAUSE}"}


@ppca_maximum_likelihood.verdict
def _(student, reference):
    what = f"PPCA({DIGITS_Q}) on the dequantised training digits"
    if "problem" in student:
        raise CheckFailed(student["problem"])
    if not np.isfinite(student["train"]):
        raise CheckFailed(f"the mean log-likelihood of {what} is {student['train']}, not a "
                          f"finite number. {NON_FINITE_CAUSE}")
    for name, value in student["perturbed"].items():
        if value > student["train"] + 1e-9:
            raise CheckFailed(f"{what}: the parameters with {name} have a higher training "
                              f"log-likelihood ({value:.4f} nats per image) than the fitted "
                              f"ones ({student['train']:.4f}): fit is not the maximum of the "
                              "likelihood (sigma^2 the mean of the discarded eigenvalues of S "
                              "dividing by N, W = U_q sqrt(L_q - sigma^2 I))")
    expect_close(student["rotated"], student["train"], f"the log-likelihood of W R (R a "
                 f"rotation) against that of W, {what}", rtol=1e-9, atol=1e-9)
    expect_close(student["train"], reference["train"],
                 f"the mean training log-likelihood of {what} (nats per image)",
                 rtol=1e-7, atol=1e-7)
    expect_close(student["test"], reference["test"],
                 f"the mean test log-likelihood of {what} (nats per image)",
                 rtol=1e-7, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# score_samples, transform, sample (attributes set by the check)
# ---------------------------------------------------------------------------------------------

@check(points=2, uses=PPCA, reference=False, task="`PPCA.score_samples`",
       hint="log N(x | mean, C), C = W W^T + sigma^2 I: -0.5 (D log 2 pi + log|C| + "
            "(x - mean)^T C^-1 (x - mean)), one value per example")
def ppca_score_samples(lab, rng):
    """With attributes set by the check (D = 5, q = 2, sigma^2 = 0.5): the log-likelihood of
    8 examples against scipy's multivariate_normal.logpdf; with the attributes of
    scikit-learn's PCA fitted to 30 examples (D = 6, q = 3), against its score_samples."""
    model = _hand_made(lab, rng)
    x = model.mean_ + rng.normal(size=(8, 5)) * 1.5
    hand = model.score_samples(x)
    fitted = rng.normal(size=(30, 6)) @ rng.normal(size=(6, 6)) + 0.5
    sk = _sklearn_ml(fitted, 3)
    other = lab.ppca.PPCA(3)
    other.mean_, other.weights_ = sk.mean_, _sklearn_weights(sk)
    other.noise_variance_ = float(sk.noise_variance_)
    x_other = fitted[:6] + rng.normal(size=(6, 6)) * 0.3
    return {**_attributes(model), "x": x, "scores": hand, "x_other": x_other,
            "sklearn_scores": sk.score_samples(x_other), "scores_other": other.score_samples(x_other)}


@ppca_score_samples.verdict
def _(student, _reference):
    from scipy.stats import multivariate_normal
    x, mean = np.asarray(student["x"]), np.asarray(student["mean"])
    w, s2 = np.asarray(student["weights"]), float(student["noise_variance"])
    d = x.shape[1]
    c = w @ w.T + s2 * np.eye(d)
    expected = multivariate_normal(mean, c).logpdf(x)
    what = "PPCA.score_samples(x) for x (8, 5), q = 2, sigma^2 = 0.5"
    scores = np.asarray(student["scores"], np.float64)
    if scores.size == 1:
        raise CheckFailed(f"{what} returned one number: one log-likelihood per example, (N,)")
    expect_shape(scores, (8,), what)
    if not np.all(np.isfinite(scores)):
        raise CheckFailed(f"{what} is not finite: is C = W W^T + sigma^2 I (W W^T alone is "
                          "singular, rank q < D)?")
    centred = x - mean
    maha = np.einsum("nd,de,ne->n", centred, np.linalg.inv(c), centred)
    log_det = np.linalg.slogdet(c)[1]
    uncentred = np.einsum("nd,de,ne->n", x, np.linalg.inv(c), x)
    transposed = np.sum(np.linalg.solve(np.linalg.cholesky(c).T, centred.T) ** 2, axis=0)
    no_noise = w @ w.T
    mistakes = (
        (expected + 0.5 * d * np.log(2 * np.pi), "the D log(2 pi) term is missing"),
        (-0.5 * (d * np.log(2 * np.pi) + 0.5 * log_det + maha), "log|C| is halved: with "
         "C = L L^T, log|C| = 2 sum log diag(L)"),
        (-0.5 * (d * np.log(2 * np.pi) + log_det + uncentred), "x is not centred: the "
         "Mahalanobis term is (x - mean)^T C^-1 (x - mean)"),
        (-0.5 * (d * np.log(2 * np.pi) + log_det + np.einsum("nd,de,ne->n", centred, c, centred)),
         "the Mahalanobis term uses C instead of C^-1"),
        (-0.5 * (d * np.log(2 * np.pi) + log_det + transposed), "the Mahalanobis term is "
         "||L^-T (x - mean)||^2: with C = L L^T, C^-1 = L^-T L^-1, so (x - mean)^T C^-1 "
         "(x - mean) = ||L^-1 (x - mean)||^2: solve with L (lower triangular), not L^T"),
        (multivariate_normal(mean, no_noise + s2 ** 2 * np.eye(d)).logpdf(x),
         "C = W W^T + sigma^4 I: noise_variance_ IS sigma^2"),
        (-(d * np.log(2 * np.pi) + log_det + maha), "-(...) instead of -0.5 (...)"),
    )
    expect_close_naming(scores, expected, what, mistakes, rtol=1e-7, atol=1e-8, advice=(
        "check the quadratic form (x - mean)^T C^-1 (x - mean) (with C = L L^T, "
        "||L^-1 (x - mean)||^2) and log|C| (2 sum log diag(L))"))
    expect_close(student["scores_other"], student["sklearn_scores"],
                 "PPCA.score_samples with the attributes of scikit-learn's PCA(3) fit "
                 "(against its score_samples)", rtol=1e-7, atol=1e-8)


@check(points=1, uses=PPCA, reference=False, task="`PPCA.transform`",
       hint="E[z|x] = M^-1 W^T (x - mean) with M = W^T W + sigma^2 I (q x q); one row per "
            "example")
def ppca_posterior_mean(lab, rng):
    """With attributes set by the check (D = 5, q = 2, sigma^2 = 0.5): the posterior means of
    7 examples against Gaussian conditioning, W^T (W W^T + sigma^2 I)^-1 (x - mean)."""
    model = _hand_made(lab, rng)
    x = model.mean_ + rng.normal(size=(7, 5)) * 1.5
    return {**_attributes(model), "x": x, "codes": model.transform(x)}


@ppca_posterior_mean.verdict
def _(student, _reference):
    x, mean = np.asarray(student["x"]), np.asarray(student["mean"])
    w, s2 = np.asarray(student["weights"]), float(student["noise_variance"])
    centred = (x - mean).T
    expected = (w.T @ np.linalg.solve(w @ w.T + s2 * np.eye(len(w)), centred)).T
    what = "PPCA.transform(x) (E[z|x]) for x (7, 5), q = 2, sigma^2 = 0.5"
    codes = np.asarray(student["codes"], np.float64)
    if codes.shape == (2, 7):
        raise CheckFailed(f"{what} has shape (q, N) = (2, 7): one ROW per example, (N, q)")
    expect_shape(codes, (7, 2), what)
    gram = w.T @ w
    mistakes = (
        ((w.T @ centred).T, "W^T (x - mean) alone: multiply by M^-1, M = W^T W + sigma^2 I"),
        (np.linalg.solve(gram, w.T @ centred).T, "M = W^T W without + sigma^2 I: that is the "
                                                "projection of PCA, not the posterior mean"),
        (np.linalg.solve(gram + s2 * np.eye(2), w.T @ x.T).T, "x is not centred: subtract mean_"),
        (s2 * np.linalg.solve(gram + s2 * np.eye(2), w.T @ centred).T,
         "sigma^2 M^-1 is the posterior COVARIANCE: the mean is M^-1 W^T (x - mean)"),
    )
    expect_close_naming(codes, expected, what, mistakes, rtol=1e-7, atol=1e-9)


@check(points=1, uses=PPCA, reference=False, task="`PPCA.sample`",
       hint="x = mean + z W^T + sqrt(noise_variance_) * noise, z (n, q) and noise (n, D) "
            "standard normal from np.random.default_rng(seed)")
def ppca_sample(lab, rng):
    """With attributes set by the check (D = 3, q = 1, sigma^2 = 0.25): 10 000 samples have
    the model's mean and covariance W W^T + sigma^2 I; the same seed gives the same samples,
    another seed others."""
    model = lab.ppca.PPCA(1)
    model.mean_ = np.array([1.0, -2.0, 0.5])
    model.weights_ = np.array([[1.0], [0.5], [-0.5]])
    model.noise_variance_ = 0.25
    return {"samples": model.sample(10_000, seed=5),
            "again": np.asarray(model.sample(10_000, seed=5))[:3],
            "other": np.asarray(model.sample(10_000, seed=6))[:3]}


@ppca_sample.verdict
def _(student, _reference):
    what = "PPCA.sample(10000, seed=5) with mean (1, -2, 0.5), W (1, 0.5, -0.5)^T, sigma^2 0.25"
    samples = expect_shape(np.asarray(student["samples"], np.float64), (10_000, 3), what)
    expect_finite(samples, what)
    again, other = (np.asarray(student[k], np.float64) for k in ("again", "other"))
    expect_true(again.shape == (3, 3) and np.allclose(again, samples[:3]),
                "two calls of PPCA.sample(10000, seed=5) differ: the same seed must give the "
                "same samples (draw from np.random.default_rng(seed))")
    expect_true(not np.allclose(other, again), "PPCA.sample(10000, seed=6) starts with the "
                "samples of seed=5: draw from np.random.default_rng(seed)")
    mean = np.array([1.0, -2.0, 0.5])
    w = np.array([[1.0], [0.5], [-0.5]])
    covariance = w @ w.T + 0.25 * np.eye(3)
    got_mean = samples.mean(axis=0)
    if np.allclose(got_mean, 0.0, atol=0.05):
        raise CheckFailed(f"the sample mean of {what} is 0: add mean_")
    worst = int(np.argmax(np.abs(got_mean - mean)))
    expect_true(abs(got_mean[worst] - mean[worst]) <= 0.05,
                f"the sample mean of {what}: entry {worst} is {got_mean[worst]:.3f}, expected "
                f"{mean[worst]:.3f} (the Monte-Carlo error is about 0.01)")
    got = np.cov(samples, rowvar=False)
    for wrong, message in ((w @ w.T, "the covariance is W W^T alone: add the noise "
                                     "sqrt(noise_variance_) * eps"),
                           (w @ w.T + 0.0625 * np.eye(3), "the noise variance is sigma^4: "
                            "scale the noise by the SQUARE ROOT of noise_variance_"),
                           (w @ w.T + 0.25 * np.ones((3, 3)), "the off-diagonal entries are "
                            "W W^T + sigma^2, as if sigma^2 11^T: the noise is shared across "
                            "the D dimensions (one value per example, broadcast); draw it "
                            "(n, D), independent in every dimension, so its covariance is "
                            "sigma^2 I")):
        if np.allclose(got, wrong, atol=0.06):
            raise CheckFailed(f"the sample covariance of {what}: {message}")
    _judge_entrywise(got, covariance, f"the sample covariance of {what}", atol=0.08)


def _judge_entrywise(got, expected, what, atol):
    """A Monte-Carlo covariance against the model's, entry by entry: the worst entry, and
    whether the wrong entries are on the diagonal (variances) or off it (covariances)."""
    wrong = np.abs(got - expected) > atol
    if not wrong.any():
        return
    i, j = np.unravel_index(int(np.argmax(np.abs(got - expected))), got.shape)
    place = "on the diagonal" if i == j else "off the diagonal"
    off = wrong & ~np.eye(len(got), dtype=bool)
    if not off.any():
        where = ("only variances (the diagonal) are wrong: the noise's scale, "
                 "sqrt(noise_variance_) in every dimension?")
    elif not np.diag(wrong).any():
        where = ("only covariances (off the diagonal) are wrong: the noise must be independent "
                 "across the D dimensions (sigma^2 I is diagonal), and z W^T carries all the "
                 "correlation")
    else:
        where = "variances and covariances are both wrong"
    raise CheckFailed(f"{what} differs from W W^T + sigma^2 I in {int(wrong.sum())} of "
                      f"{got.size} entries (more than {atol} apart, well beyond the Monte-Carlo "
                      f"error); worst entry ({i}, {j}), {place}: got {got[i, j]:.3f}, expected "
                      f"{expected[i, j]:.3f}; {where}")
