"""Public checks of lab03_optimization, part 3: fans, Glorot and He standard deviations,
the ScaledNormal initializer, and activation variances through a deep MLP
(initialization.py)."""
import math

import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab03_optimization.probes import depth_variances, judge_depth
from autograder.verdicts import expect_close, expect_equal, expect_true

FAN_SHAPES = [(64, 32), (3, 3, 16, 8), (5, 4, 2), (7,), (2, 2, 2, 3, 5)]


@check(points=2, uses="initialization", task="`compute_fans`, `glorot_std`, `he_std`",
       hint="compute_fans: receptive field = product of all but the last two sizes; glorot_std "
            "= sqrt(2 / (fan_in + fan_out)); he_std = sqrt(2 / fan_in)")
def fans_and_stds(lab, rng):
    """Fans of Dense and convolution kernel shapes, and the Glorot and He standard
    deviations for random fans."""
    init = lab.initialization
    pairs = rng.integers(1, 600, size=(4, 2))
    return {"fans": [list(init.compute_fans(shape)) for shape in FAN_SHAPES],
            "glorot": [init.glorot_std(int(a), int(b)) for a, b in pairs],
            "he": [init.he_std(int(a)) for a, _ in pairs], "pairs": pairs}


@fans_and_stds.verdict
def _(student, reference):
    for shape, mine, theirs in zip(FAN_SHAPES, student["fans"], reference["fans"]):
        expect_equal(np.asarray(mine).astype(np.int64), theirs,
                     f"compute_fans({shape}) (fan_in, fan_out)")
    pairs = [tuple(int(v) for v in p) for p in reference["pairs"]]
    expect_close(np.asarray(student["glorot"], dtype=np.float64), reference["glorot"],
                 f"glorot_std(fan_in, fan_out) for (fan_in, fan_out) in {pairs}")
    expect_close(np.asarray(student["he"], dtype=np.float64), reference["he"],
                 f"he_std(fan_in) for fan_in in {[p[0] for p in pairs]}")


INITIALIZER_SHAPES = {"he": (400, 300), "glorot": (3, 3, 64, 32)}
# A normal puts 0.27 % of its draws beyond 3 standard deviations: about 320 of the he
# shape's 120000 and 50 of the glorot shape's 18432 (sd 18 and 7). A truncated normal (cut
# at 2 of its own standard deviations) or a uniform puts none there.
NORMAL_TAIL, TAIL_FLOOR = 0.0027, 0.0012


def own_std(init, mode, shape):
    """The std the student's own compute_fans and glorot_std / he_std give for `shape`, or
    None when they fail: ScaledNormal is judged on its own, not on those helpers."""
    try:
        fan_in, fan_out = init.compute_fans(shape)
        return float(init.he_std(fan_in) if mode == "he" else init.glorot_std(fan_in, fan_out))
    except Exception:  # reported by fans_and_stds
        return None


def std_slip(mode, shape, std):
    """The usual wrong formula whose std `std` matches, if any."""
    receptive = math.prod(shape[:-2])
    fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
    wanted = math.sqrt(2 / fan_in) if mode == "he" else math.sqrt(2 / (fan_in + fan_out))
    candidates = {
        "a normal truncated at 2 standard deviations (its std is 0.88 times the one asked "
        "for): draw from keras.random.normal": 0.8796 * wanted,
        "He's formula with fan_out: sqrt(2 / fan_out)": math.sqrt(2 / fan_out),
        "sqrt(1 / fan_in) (LeCun's), without the factor 2": math.sqrt(1 / fan_in),
        "Glorot's formula": math.sqrt(2 / (fan_in + fan_out)),
        "He's formula": math.sqrt(2 / fan_in),
        "the variance passed as the standard deviation": wanted ** 2,
        "the fans of the last two sizes only, without the receptive field":
            math.sqrt(2 / shape[-2]) if mode == "he" else math.sqrt(2 / (shape[-2] + shape[-1])),
    }
    for slip, value in candidates.items():
        if abs(std / value - 1) < 0.02 and abs(value / wanted - 1) > 0.05:
            return slip
    return None


@check(points=1, uses="initialization", task="`ScaledNormal.__call__`, `get_config`",
       hint="ScaledNormal.__call__: std from compute_fans(shape) and he_std(fan_in) or "
            "glorot_std(fan_in, fan_out); keras.random.normal(shape, stddev=std, dtype=dtype, "
            "seed=self.seed)")
def scaled_normal_samples(lab, rng):
    """Samples of a He and a Glorot `ScaledNormal`: shape, dtype, a normal's tails, the
    standard deviation within 3 %, zero mean, the same values for the same int seed, and
    the same values again once rebuilt from its config."""
    import keras
    out = {}
    for mode, shape in INITIALIZER_SHAPES.items():
        values = np.asarray(lab.initialization.ScaledNormal(mode)(shape, dtype="float32"))
        std = float(values.std())
        out[mode] = {"shape": list(values.shape), "dtype": str(values.dtype), "std": std,
                     "mean": float(values.mean()),
                     "tail": float(np.mean(np.abs(values - values.mean()) > 3 * std)),
                     "own_std": own_std(lab.initialization, mode, shape)}
    seeded = lab.initialization.ScaledNormal("he", seed=7)
    out["same_seed_same_values"] = bool(np.array_equal(np.asarray(seeded((20, 10))),
                                                       np.asarray(seeded((20, 10)))))
    out["is_initializer"] = isinstance(seeded, keras.initializers.Initializer)
    glorot = lab.initialization.ScaledNormal("glorot", seed=3)
    rebuilt = lab.initialization.ScaledNormal.from_config(glorot.get_config())
    out["rebuilt_same_values"] = bool(np.array_equal(np.asarray(rebuilt((30, 20))),
                                                     np.asarray(glorot((30, 20)))))
    return out


@scaled_normal_samples.verdict
def _(student, reference):
    expect_true(student["is_initializer"],
                "ScaledNormal must subclass keras.initializers.Initializer")
    for mode, shape in INITIALIZER_SHAPES.items():
        mine, theirs = student[mode], reference[mode]
        call = f'ScaledNormal("{mode}")({shape})'
        expect_true(tuple(mine["shape"]) == shape and mine["dtype"] == "float32",
                    f"{call} returned shape {tuple(mine['shape'])} and dtype {mine['dtype']}, "
                    f"expected {shape} and float32")
        expect_true(mine["tail"] >= TAIL_FLOOR,
                    f"only {mine['tail']:.3%} of the values of {call} lie beyond 3 standard "
                    f"deviations from their mean, where a normal puts {NORMAL_TAIL:.2%}: the "
                    "values are cut off (a truncated normal, or a uniform). Draw them from "
                    "keras.random.normal")
        # About 1e5 draws: the sample std is within 0.5 % of the true one.
        ratio = mine["std"] / theirs["std"]
        own = mine["own_std"]
        consistent = own is not None and abs(mine["std"] / own - 1.0) < 0.03
        if abs(ratio - 1.0) >= 0.03 and not consistent:
            slip = std_slip(mode, shape, mine["std"])
            raise CheckFailed(f"the standard deviation of {call} is {mine['std']:.4g}, the "
                              f"reference's {theirs['std']:.4g} (ratio {ratio:.3f})"
                              + (f": that is {slip}" if slip else
                                 ": take the fans from compute_fans(shape) and the std from "
                                 "he_std or glorot_std"))
        size = float(np.prod(shape))
        expect_true(abs(mine["mean"]) < 5.0 * mine["std"] / np.sqrt(size),
                    f"the mean of {call} is {mine['mean']:.3g}: the weights must be zero-mean")
    expect_true(student["same_seed_same_values"],
                'ScaledNormal("he", seed=7) gave different values on two calls: an int seed '
                "must give the same values every time (pass seed=self.seed to keras.random)")
    expect_true(student["rebuilt_same_values"],
                'ScaledNormal.from_config(ScaledNormal("glorot", seed=3).get_config()) draws '
                "other values than the original: get_config must return its mode and seed")


DEPTH = {"inputs": 64, "width": 512, "layers": 10, "batch": 256, "networks": 4}


@check(points=2, uses="initialization", task="(your `ScaledNormal`)",
       hint="with He initialisation the variance of a ReLU network's pre-activations stays "
            "about constant with depth; a wrong fan or scale, or a truncated normal, makes it "
            "shrink or grow layer after layer")
def activation_variance_through_depth(lab, rng):
    """The pre-activation variance of every layer of 64-512x10 MLPs initialised with your
    ScaledNormal (He with ReLU, Glorot with tanh): within a factor 1.6 of the reference's."""
    return {"he_relu": depth_variances(lab, rng, DEPTH, "he", "relu"),
            "glorot_tanh": depth_variances(lab, rng, DEPTH, "glorot", "tanh")}


@activation_variance_through_depth.verdict
def _(student, reference):
    judge_depth(student, reference, DEPTH)
