"""Public checks of lab13_wgan, part 1: exact 1-D and sliced W1 (wasserstein.py) and the
WGAN losses (wgan_losses.py), each on its own."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import tensor
from autograder.checks.lab13_wgan.probes import (
    LOSSES,
    WASSERSTEIN,
    scalar,
)
from autograder.verdicts import expect_close, expect_close_naming

# Small cases whose W1 is known by hand: (x, y, W1, what a likely slip gives, the slip).
HAND_CASES = [
    ([0.0], [1.0], 1.0, 0.0,
     "the empirical CDF evaluated one point late: F(t) counts the points <= t "
     "(np.searchsorted(..., side='right')), not the points < t"),
    ([0.0, 2.0], [1.0], 1.0, None, ""),
    ([0.0, 0.0, 3.0], [1.0, 3.0], 1.0, None, ""),
]


@check(points=2, uses=WASSERSTEIN, task="`wasserstein_1d`",
       hint="sort both samples; for equal sizes W1 = mean |x_(i) - y_(i)|; in general sum "
            "|F_x - F_y| * gap over consecutive points of the merged sorted sample, with "
            "F(t) = #{points <= t} / size")
def wasserstein_1d(lab, rng):
    """Exact W1 on small cases known by hand, on a shuffled sample moved by 3 (W1 = 3), on
    equal-size random samples, and on samples of different sizes (5 vs 7, 300 vs 170) in
    both orders."""
    fn = lab.wasserstein.wasserstein_1d
    x, y = rng.normal(size=300), rng.gamma(2.0, size=300)
    small_x, small_y = rng.normal(size=5), rng.normal(1.0, 2.0, size=7)
    large_y = rng.exponential(size=170)
    return {
        "hand": [scalar(fn(np.array(a), np.array(b)), f"wasserstein_1d({a}, {b})")
                 for a, b, *_ in HAND_CASES],
        "x": x, "y": y, "w1": scalar(fn(x, y), "wasserstein_1d(x, y)"),
        "w1_shifted": scalar(fn(x, x[::-1] + 3.0), "wasserstein_1d(x, x + 3)"),
        "small_x": small_x, "small_y": small_y,
        "small": scalar(fn(small_x, small_y), "wasserstein_1d(x (5,), y (7,))"),
        "large_y": large_y, "large": scalar(fn(x, large_y), "wasserstein_1d(x (300,), y (170,))"),
        "large_swapped": scalar(fn(large_y, x), "wasserstein_1d(y (170,), x (300,))")}


TRUNCATED = "matches the sorted points one to one and drops the larger sample's extra " \
            "points: for N != M integrate |F_x - F_y| over the merged sorted sample"


def truncated(x, y):
    """The slip: mean |x_(i) - y_(i)| over the first min(N, M) sorted points."""
    x, y = np.sort(x), np.sort(y)
    k = min(len(x), len(y))
    return float(np.abs(x[:k] - y[:k]).mean())


@wasserstein_1d.verdict
def _(student, reference):
    for got, (a, b, w1, slip_value, slip) in zip(student["hand"], HAND_CASES):
        got, what = float(got), f"wasserstein_1d({a}, {b})"
        if np.isclose(got, w1, rtol=1e-6, atol=1e-9):
            continue
        said = f"{what} is {got:.4g}, expected {w1:g} (worked out by hand)"
        if slip_value is not None and np.isclose(got, slip_value):
            raise CheckFailed(f"{said}: {slip}")
        if np.isclose(got, truncated(a, b)):
            raise CheckFailed(f"{said}: it {TRUNCATED}")
        raise CheckFailed(said)
    expect_close(student["w1_shifted"], reference["w1_shifted"],
                 "wasserstein_1d(x, y) for y = x + 3, shuffled (every point moves by exactly 3, "
                 "so W1 = 3),")
    x, y = reference["x"], reference["y"]
    expect_close_naming(student["w1"], reference["w1"], "wasserstein_1d(x, y) (300 points each)", [
        (np.abs(x - y).mean(), "pairs x_i with y_i as given; the optimal coupling pairs "
                               "them in sorted order (sort both first)"),
        (np.sqrt(((np.sort(x) - np.sort(y)) ** 2).mean()),
         "is the root mean *squared* gap (W2); W1 is the mean absolute gap"),
    ])
    small_x, small_y = reference["small_x"], reference["small_y"]
    expect_close_naming(student["small"], reference["small"], "wasserstein_1d(x, y) on 5 and 7 "
                 "points", [(truncated(small_x, small_y), TRUNCATED)])
    expect_close(student["large"], reference["large"], "wasserstein_1d(x, y) on 300 and 170 "
                 "points")
    expect_close(student["large_swapped"], student["large"], "wasserstein_1d(y, x) on 170 and "
                 "300 points", against="wasserstein_1d(x, y) (W1 is symmetric)")


@check(points=1, uses=WASSERSTEIN, task="`sliced_wasserstein`",
       hint="project both samples on each direction (x @ directions.T), wasserstein_1d on "
            "every column pair, then the mean over the directions")
def sliced_wasserstein(lab, rng):
    """Sliced W1 of two 3-D samples over 12 random directions, against the reference."""
    x = rng.normal(size=(250, 3))
    y = rng.normal(size=(250, 3)) * [1.0, 2.0, 0.5] + [1.0, 0.0, -1.0]
    directions = lab.wasserstein.random_directions(12, 3, seed=int(rng.integers(1 << 30)))
    return {"sliced": scalar(lab.wasserstein.sliced_wasserstein(x, y, directions),
                             "sliced_wasserstein(x, y, directions)"), "directions": 12}


@sliced_wasserstein.verdict
def _(student, reference):
    count = int(reference["directions"])
    expect_close_naming(student["sliced"], reference["sliced"], "sliced_wasserstein(x, y, directions) "
                 f"on 3-D samples and {count} directions", [
                     (count * reference["sliced"], "sums over the directions; take the mean")])


def cross_entropy(real, fake):
    """The GAN discriminator's loss on these scores taken as logits, by Keras's own binary
    cross-entropy (probes only): what a critic_loss borrowed from the GAN lab gives."""
    import keras
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    return float(bce(np.ones_like(real), real)) + float(bce(np.zeros_like(fake), fake))


@check(points=1, uses=LOSSES, task="`critic_loss`",
       hint="the critic minimises mean(fake scores) - mean(real scores): real scores go up")
def critic_loss(lab, rng):
    """The critic's loss on 32 real and 24 fake random scores, against the reference; the
    message names one mean over both batches, sums, or the GAN's cross-entropy (compared
    with the reference's loss when one batch's scores are all 0, and with Keras's binary
    cross-entropy)."""
    real, fake = rng.normal(1.0, 2.0, size=(32, 1)), rng.normal(size=(24, 1))
    fn = lab.wgan_losses.critic_loss

    def loss(r, f):
        return scalar(fn(tensor(r), tensor(f)), "critic_loss")
    return {"loss": loss(real, fake), "real_term": loss(real, np.zeros_like(fake)),
            "fake_term": loss(np.zeros_like(real), fake), "sizes": [len(real), len(fake)],
            "cross_entropy": cross_entropy(real, fake)}


@critic_loss.verdict
def _(student, reference):
    n, m = (int(size) for size in reference["sizes"])
    real_term, fake_term = float(reference["real_term"]), float(reference["fake_term"])
    expect_close_naming(student["loss"], reference["loss"], "critic_loss(real_scores, fake_scores)", [
        ((n * real_term + m * fake_term) / (n + m), "takes one mean over the real and fake "
                                                    "scores together; take each batch's mean"),
        (reference["cross_entropy"], "is the GAN's cross-entropy; the WGAN critic's loss is "
                                     "linear in the scores"),
        (n * real_term + m * fake_term, "sums each batch's scores; take each batch's mean"),
    ])


@check(points=1, uses=LOSSES, task="`generator_loss`",
       hint="the generator minimises -mean(fake scores)")
def generator_loss(lab, rng):
    """The generator's loss on 24 random scores, against the reference."""
    fake = rng.normal(0.5, 2.0, size=(24, 1))
    return {"loss": scalar(lab.wgan_losses.generator_loss(tensor(fake)), "generator_loss"),
            "size": len(fake)}


@generator_loss.verdict
def _(student, reference):
    expect_close_naming(student["loss"], reference["loss"], "generator_loss(fake_scores)", [
        (reference["size"] * float(reference["loss"]), "sums the scores; take the mean"),
    ])
