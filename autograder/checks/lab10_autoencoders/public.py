"""Public checks of lab10_autoencoders, part 1: PCA and principal angles (pca.py).

The PCA maths is compared with the reference on random data whose principal directions
are well separated (so they are unique up to sign). Where a slip has a known signature
(no centring, the batch's mean, a ratio over the kept variance, cosines not clipped), the
message names it.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab10_autoencoders.probes import PCA, correlated_data, f32
from autograder.verdicts import expect_close, expect_shape, expect_true


def fitted_pca(lab, rng, n=40, d=6, k=3):
    x = correlated_data(rng, n, d)
    return lab.pca.PCA(k).fit(x), (n, d, k)


def as_float32(value, what):
    if value is None:
        raise CheckFailed(f"{what} is None: was it never set (or is a `return` missing)?")
    return np.asarray(value, np.float32)


@check(points=2, uses=PCA, task="`PCA.fit` (pca.py)",
       hint="mean_ is the column mean; components_ are the first K ROWS of Vt from "
            "np.linalg.svd(x - mean_, full_matrices=False), singular_values_ the first K of s")
def pca_fit_components(lab, rng):
    """`mean_`, `components_` (each row up to its sign) and `singular_values_` after
    `PCA(3).fit(x)` on data (40, 6) with a non-zero mean."""
    model, _ = fitted_pca(lab, rng)
    return {"mean": f32(model.mean_), "components": f32(model.components_),
            "singular_values": f32(model.singular_values_)}


def judge_components(student, reference, what):
    for name in ("mean", "components", "singular_values"):
        if student[name] is None:
            raise CheckFailed(f"{name}_ is None after {what}: fit must set it")
    expect_close(np.asarray(student["mean"], np.float32), reference["mean"], f"mean_ after {what}")
    got = expect_shape(np.asarray(student["components"], np.float64),
                       reference["components"].shape,
                       f"components_ after {what} (one component per row)")
    expected = np.asarray(reference["components"], np.float64)
    # Each component is defined up to its sign: compare the lines, then the aligned rows.
    norms = np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    cosines = np.abs(np.sum(got * expected, axis=1)) / np.where(norms > 0, norms, 1.0)
    degrees = np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))
    if np.any(degrees > 0.1):
        mean = np.asarray(reference["mean"], np.float64)
        along_mean = abs(got[0] @ mean) / (np.linalg.norm(got[0]) * np.linalg.norm(mean) + 1e-12)
        if along_mean > 0.9:
            raise CheckFailed(f"components_ after {what}: the first component points along the "
                              f"mean of the data (cosine {along_mean:.2f} with mean_): take the SVD "
                              "of the CENTRED data, x - mean_")
        row = int(np.argmax(degrees))
        raise CheckFailed(f"components_ after {what}: row {row} lies {degrees[row]:.1f} degrees "
                          f"from the reference's principal direction {row} (0 when right, "
                          f"whatever its sign; all rows: {np.round(degrees, 1).tolist()}). The "
                          "components are the first K ROWS of Vt of the CENTRED data")
    signs = np.where(np.sum(got * expected, axis=1) < 0, -1.0, 1.0)
    expect_close((got * signs[:, None]).astype(np.float32), reference["components"],
                 f"components_ after {what} (up to the sign of each row)")
    expect_close(np.asarray(student["singular_values"], np.float32),
                 reference["singular_values"], f"singular_values_ after {what}")


@pca_fit_components.verdict
def _(student, reference):
    judge_components(student, reference, "PCA(3).fit(x) on x (40, 6) with a non-zero mean")


@check(points=1, uses=PCA, task="`PCA.explained_variance_`, `explained_variance_ratio_`",
       hint="explained_variance_ = singular_values_^2 / (n_samples_ - 1); the ratio divides it "
            "by total_variance_")
def pca_explained_variance(lab, rng):
    """Both properties from given `singular_values_`, `n_samples_` = 21 and a
    `total_variance_` larger than the kept variance."""
    # Given attributes, so this check does not depend on fit.
    model = lab.pca.PCA(3)
    singular_values = np.sort(rng.uniform(0.5, 6.0, size=3))[::-1]
    model.singular_values_, model.n_samples_ = singular_values, 21
    # Some variance lies outside the 3 components, as it would after a fit.
    model.total_variance_ = float(np.sum(singular_values ** 2) / 20 + rng.uniform(0.5, 2.0))
    return {name: f32(getattr(model, f"{name}_"))
            for name in ("explained_variance", "explained_variance_ratio")}


@pca_explained_variance.verdict
def _(student, reference):
    what = ("{}_ of a PCA(3) with given singular_values_ (3,), n_samples_ = 21 and "
            "total_variance_")
    variance = as_float32(student["explained_variance"], what.format("explained_variance"))
    if variance.shape == reference["explained_variance"].shape and np.allclose(
            variance, reference["explained_variance"] * 20 / 21, rtol=1e-4):
        raise CheckFailed(f"{what.format('explained_variance')} divides by n_samples_ = 21: the "
                          "sample variance divides by N - 1 = 20")
    expect_close(variance, reference["explained_variance"], what.format("explained_variance"))
    ratio = as_float32(student["explained_variance_ratio"],
                       what.format("explained_variance_ratio"))
    if ratio.size > 1 and np.isclose(ratio.sum(), 1.0, rtol=1e-4):
        raise CheckFailed(f"{what.format('explained_variance_ratio')} sums to 1 over the 3 kept "
                          "components: divide by total_variance_ (all the variance of the "
                          "data), not by the kept variance")
    expect_close(ratio, reference["explained_variance_ratio"],
                 what.format("explained_variance_ratio"))


@check(points=2, uses=PCA, task="`PCA.transform`, `PCA.inverse_transform`",
       hint="transform: (x - mean_) @ components_.T; inverse_transform: codes @ components_ + "
            "mean_")
def pca_transform_and_inverse(lab, rng):
    """`transform` of x (7, 5) and `inverse_transform` of codes (4, 2), with given `mean_` and
    orthonormal `components_` (2, 5)."""
    # Given attributes, so this check does not depend on fit.
    model = lab.pca.PCA(2)
    model.mean_ = 2.0 * rng.normal(size=5)
    components = model.components_ = np.linalg.qr(rng.normal(size=(5, 2)))[0].T
    x, codes = rng.normal(size=(7, 5)), rng.normal(size=(4, 2))
    slips = {"batch_mean": (x - x.mean(axis=0)) @ components.T, "uncentred": x @ components.T,
             "no_mean": codes @ components}  # computed here, to name them
    return {"codes": f32(model.transform(x)), "x_hat": f32(model.inverse_transform(codes)),
            **{name: f32(value) for name, value in slips.items()}}


@pca_transform_and_inverse.verdict
def _(student, reference):
    what = "transform(x) for x (7, 5), with given mean_ and components_ (2, 5)"
    codes = as_float32(student["codes"], what)
    for slip, message in (("batch_mean", "centres x on its own mean: centre with the TRAINING "
                           "mean_ (a batch of one example would give all zeros)"),
                          ("uncentred", "projects x without subtracting mean_")):
        if codes.shape == np.shape(reference[slip]) and np.allclose(codes, reference[slip],
                                                                    rtol=1e-4, atol=1e-5):
            raise CheckFailed(f"{what} {message}")
    expect_close(codes, reference["codes"], what)
    what = "inverse_transform(codes) for codes (4, 2), with given mean_ and components_"
    x_hat = as_float32(student["x_hat"], what)
    if x_hat.shape == np.shape(reference["no_mean"]) and np.allclose(
            x_hat, reference["no_mean"], rtol=1e-4, atol=1e-5):
        raise CheckFailed(f"{what} forgets to add mean_ back")
    expect_close(x_hat, reference["x_hat"], what)


SAME_SUBSPACE_PAIRS = 12


def same_subspace_pairs(rng, count=SAME_SUBSPACE_PAIRS):
    """Pairs of bases (3, 7) of one subspace each. Orthonormalised and multiplied, most such
    pairs give a cosine that rounds just above 1, where an unclipped arccos is NaN."""
    pairs = []
    for _ in range(count):
        a = rng.normal(size=(3, 7))
        pairs.append((a, rng.normal(size=(3, 3)) @ a))
    return pairs


@check(points=2, uses=PCA, task="`principal_angles`",
       hint="Qa, Qb = orthonormal bases (np.linalg.qr of basis.T); angles = arccos of the "
            "singular values of Qa.T @ Qb, clipped to [-1, 1], increasing")
def principal_angles(lab, rng):
    """Angles between random subspaces (3 and 2 dimensions in R^7), between two bases of one
    subspace (all 0, with cosines that round above 1) and between subspaces sharing one
    direction."""
    a, b = rng.normal(size=(3, 7)), rng.normal(size=(2, 7))
    shared = np.vstack([a[:1], rng.normal(size=(1, 7))])  # one direction in common
    pairs = {"random": (a, b), "shared": (a, shared)}
    out = {name: f32(lab.pca.principal_angles(*pair)) for name, pair in pairs.items()}
    same = [f32(lab.pca.principal_angles(*pair)) for pair in same_subspace_pairs(rng)]
    return {**out, "same": same, "a": a, "b": b}


def angles_of_normalised_rows(a, b):
    """The slip of normalising each row instead of orthonormalising the basis."""
    a, b = (m / np.linalg.norm(m, axis=1, keepdims=True) for m in (a, b))
    return np.arccos(np.clip(np.sort(np.linalg.svd(a @ b.T, compute_uv=False)), -1, 1))


@principal_angles.verdict
def _(student, reference):
    what = "principal_angles(basis_a, basis_b)"
    names = {"random": "a (3, 7) and a (2, 7) basis",
             "same": f"each of {SAME_SUBSPACE_PAIRS} pairs of bases (3, 7) of one subspace",
             "shared": "subspaces sharing one direction"}
    cases = [("random", student["random"], reference["random"]),
             ("shared", student["shared"], reference["shared"])]
    cases += [("same", got, expected) for got, expected in zip(student["same"], reference["same"])]
    for name, got, expected in cases:
        pair = names[name]
        angles = expect_shape(as_float32(got, f"{what} for {pair}"), np.shape(expected),
                              f"{what} for {pair}")
        if np.isnan(angles).any() and not np.isnan(expected).any():
            raise CheckFailed(f"{what} for {pair} gives NaN ({np.round(angles, 4).tolist()}): "
                              "rounding pushes a cosine of 1 just above 1, where arccos is NaN; "
                              "clip the cosines to [-1, 1] before np.arccos")
    random = np.asarray(student["random"], np.float64)
    expect_true(not np.allclose(random, 0.0) or np.allclose(reference["random"], 0.0),
                f"{what} gives all angles 0 for two random subspaces: were the bases "
                "orthonormalised before the SVD (cosines above 1 clip to an angle of 0)?")
    slip = np.sort(angles_of_normalised_rows(reference["a"], reference["b"]))[::-1]
    if random.shape == slip.shape and np.allclose(np.sort(random), np.sort(slip), atol=1e-4):
        raise CheckFailed(f"{what} for {names['random']}: the rows were normalised, not the bases "
                          "orthonormalised: take Q from np.linalg.qr(basis.T)")
    expect_close(random, reference["random"], f"{what} for {names['random']}", atol=1e-4)
    same = np.asarray(student["same"], np.float64)
    worst = int(np.argmax(np.abs(same).max(axis=1)))
    expect_true(np.all(np.abs(same) < 1e-3), f"{what} of two different bases of the SAME subspace "
                f"must be all 0, got {np.round(same[worst], 4).tolist()}: orthonormalise each "
                "basis first")
    expect_close(student["shared"], reference["shared"], f"{what} for {names['shared']}",
                 atol=1e-3)
