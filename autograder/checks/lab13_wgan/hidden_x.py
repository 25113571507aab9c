"""Hidden checks of lab13_wgan, parts 5 and 6: spectral normalisation of a strided,
padded convolution, and the Fréchet distance in 20 dimensions, on fresh inputs against the
solution run live."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import tensor
from autograder.checks.lab13_wgan.probes import scalar
from autograder.verdicts import expect_close, expect_finite

SPECTRAL = ("regularizers", "wgan_model", "wgan_losses", "fgan_losses")


@check(points=1, uses=SPECTRAL,
       hint="a Conv2D kernel (kh, kw, c_in, K) is the matrix (kh * kw * c_in, K); strides and "
            "padding change nothing in the normalisation")
def spectral_norm_on_strided_conv(lab, rng):
    import keras
    sn = lab.regularizers.SpectralNormalization(
        keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"))
    x = tensor(rng.normal(size=(3, 6, 6, 2)))
    sn.build(x.shape)
    sn.layer.set_weights([tensor(rng.normal(size=w.shape)) for w in sn.layer.get_weights()])
    u = rng.normal(size=4)
    sn.u.assign(tensor(u / np.linalg.norm(u)))
    outputs = [np.asarray(sn(x, training=True)) for _ in range(3)]
    return {"train": np.stack(outputs), "u": sn.u.numpy(), "infer": np.asarray(sn(x))}


@spectral_norm_on_strided_conv.verdict
def _(student, reference):
    for key in ("train", "u", "infer"):
        expect_close(student[key], reference[key], f"SpectralNormalization(Conv2D(4, 3, "
                     f"strides=2, padding='same')): {key}", rtol=1e-4, atol=1e-5)


@check(points=1, uses=("quality",),
       hint="frechet_distance (given the check's own np.mean / np.cov statistics) on the matrix "
            "square root of an ill-conditioned product: take the real part of sqrtm, or clip "
            "tiny negative eigenvalues to 0 on the symmetric route")
def frechet_distance_in_20_dimensions(lab, rng):
    a = rng.normal(size=(20, 20)) * np.logspace(0, -3, 20)
    b = rng.normal(size=(20, 20))
    features_a = rng.normal(size=(400, 20)) @ a + 1.0
    features_b = rng.normal(size=(300, 20)) @ b
    # The check's own statistics: a wrong feature_statistics costs only its public check.
    stats_a, stats_b = [[np.mean(f, axis=0), np.cov(f, rowvar=False)]
                        for f in (features_a, features_b)]
    fd = lab.quality.frechet_distance
    return {"fd": scalar(fd(*stats_a, *stats_b), "frechet_distance"),
            "self": scalar(fd(*stats_a, *stats_a), "frechet_distance(a, a)")}


@frechet_distance_in_20_dimensions.verdict
def _(student, reference):
    expect_finite(student["fd"], "frechet_distance in 20 dimensions")
    expect_close(student["fd"], reference["fd"], "frechet_distance of 20-D features with an "
                 "ill-conditioned covariance", rtol=1e-4, atol=1e-6)
    expect_close(student["self"], 0.0, "frechet_distance(a, a) in 20 dimensions",
                 against="0", atol=1e-5)
