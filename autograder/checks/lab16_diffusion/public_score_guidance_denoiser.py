"""Public checks of lab16_diffusion, part 3: score matching and annealed Langevin dynamics
(score_matching.py), classifier-free guidance (guidance.py) and the denoiser (denoiser.py).
Values are compared with the reference; annealed_langevin runs with the exact score of
Gaussian data."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import scalar, tensor
from autograder.checks.lab16_diffusion.probes import DENOISER, GUIDANCE, SCORE, gaussian_stats
from autograder.verdicts import expect_close, expect_equal, expect_finite, expect_shape, expect_true


@check(points=1, uses=SCORE,
       task="`score_from_noise`, `denoising_score_matching_loss`",
       hint="score = -predicted_noise / sigma; loss = mean over examples of 0.5 * "
            "sum over dimensions of (sigma * score + noise)^2")
def score_matching_loss(lab, rng):
    """The score of a noise prediction (per-example and scalar sigma) and the loss."""
    sm = lab.score_matching
    eps, score, noise = (rng.normal(size=(16, 2)) for _ in range(3))
    sigma = rng.uniform(0.1, 2.0, size=(16, 1))
    return {"score": sm.score_from_noise(tensor(eps), tensor(sigma)),
            "score_scalar_sigma": sm.score_from_noise(tensor(eps), 0.3),
            "loss": scalar(sm.denoising_score_matching_loss(tensor(score), tensor(noise),
                                                            tensor(sigma)),
                           "denoising_score_matching_loss")}


@score_matching_loss.verdict
def _(student, reference):
    expect_close(student["score"], reference["score"], "score_from_noise(predicted_noise, sigma)")
    expect_close(student["score_scalar_sigma"], reference["score_scalar_sigma"],
                 "score_from_noise(predicted_noise, 0.3)")
    expect_close(student["loss"], reference["loss"],
                 "denoising_score_matching_loss(score, noise, sigma)")


@check(points=1, uses=SCORE, task="`langevin_step`",
       hint="x + step_size / 2 * score + sqrt(step_size) * noise")
def langevin_step(lab, rng):
    """One step at two step sizes."""
    x, score, noise = (rng.normal(size=(16, 2)) for _ in range(3))
    step = lab.score_matching.langevin_step
    return {str(size): step(tensor(x), tensor(score), size, tensor(noise)) for size in (0.01, 0.3)}


@langevin_step.verdict
def _(student, reference):
    for size in reference:
        expect_close(student[size], reference[size],
                     f"langevin_step(x, score, step_size={size}, noise)")


@check(points=2, uses=SCORE, task="`annealed_step_sizes`, `annealed_langevin`",
       hint="step sizes epsilon * sigma_i^2 / sigma_L^2; at each level, steps_per_level "
            "langevin_steps with the score at that sigma and fresh noise")
def annealed_langevin(lab, rng):
    """Step sizes; with the exact score of Gaussian data, the samples come back with about
    the data's mean and std."""
    sm = lab.score_matching
    sigmas = np.geomspace(2.0, 0.1, 8)
    mean, std = np.array([1.0, -0.5]), 0.5

    def score_fn(x, sigma):  # the exact score of N(mean, std^2) data perturbed by sigma
        return -(x - tensor(mean)) / (std ** 2 + sigma ** 2)

    start = tensor(3.0 * rng.normal(size=(1000, 2)))
    return {"step_sizes": np.asarray(sm.annealed_step_sizes(sigmas, 0.01), dtype=np.float64),
            "samples": sm.annealed_langevin(score_fn, start, sigmas, 0.01, 20, seed=3)}


@annealed_langevin.verdict
def _(student, reference):
    expect_close(student["step_sizes"], reference["step_sizes"],
                 "annealed_step_sizes(geomspace(2, 0.1, 8), epsilon=0.01)")
    what = "annealed_langevin(score_fn, x, sigmas (2 to 0.1), 0.01, 20 steps per level)"
    samples = expect_shape(student["samples"], (1000, 2), what)
    expect_finite(samples, what)
    # The last level samples the data perturbed by sigma_L = 0.1: std sqrt(0.5^2 + 0.1^2).
    target_std = np.sqrt(0.5 ** 2 + 0.1 ** 2)
    got_mean, got_std = gaussian_stats(samples)
    expect_true(np.all(np.abs(got_mean - [1.0, -0.5]) < 0.1) and
                np.all(np.abs(got_std / target_std - 1) < 0.15),
                f"{what} with the exact score of N([1, -0.5], 0.5^2) data gives samples of mean "
                f"{np.round(got_mean, 3).tolist()} and std {np.round(got_std, 3).tolist()}, "
                f"expected about [1, -0.5] and {target_std:.3f}")
    for got, want, stat in zip(gaussian_stats(samples), gaussian_stats(reference["samples"]),
                               ("mean", "std")):
        expect_close(got, want, f"the {stat} of the samples of {what}", rtol=0.0, atol=0.05)


# ---- Classifier-free guidance (guidance.py) --------------------------------------------------

@check(points=1, uses=GUIDANCE, task="`drop_labels`",
       hint="tf.where(uniform < drop_probability, null_label, labels), keeping the labels' dtype")
def drop_labels(lab, rng):
    """Which labels become the null label for given uniform draws; integer labels out."""
    labels = rng.integers(0, 3, size=24).astype(np.int32)
    uniform = rng.random(size=24).astype(np.float32)
    dropped = lab.guidance.drop_labels(tensor(labels, "int32"), tensor(uniform), 0.3, 3)
    return {"dropped": np.asarray(dropped).astype(np.int64),
            "integer": bool(np.issubdtype(np.asarray(dropped).dtype, np.integer))}


@drop_labels.verdict
def _(student, reference):
    expect_true(student["integer"], "drop_labels must return integer labels (same dtype as "
                                    "the labels), for an Embedding layer to look them up")
    expect_equal(student["dropped"], reference["dropped"],
                 "drop_labels(labels, uniform, drop_probability=0.3, null_label=3)")


@check(points=1, uses=GUIDANCE, task="`guided_noise`",
       hint="(1 + w) * conditional - w * unconditional: w = 0 gives the conditional prediction")
def guided_noise(lab, rng):
    """Guided noise for w = 0 and w = 2.5."""
    conditional, unconditional = rng.normal(size=(16, 2)), rng.normal(size=(16, 2))
    fn = lab.guidance.guided_noise
    return {str(w): fn(tensor(conditional), tensor(unconditional), w) for w in (0.0, 2.5)}


@guided_noise.verdict
def _(student, reference):
    for w in reference:
        expect_close(student[w], reference[w],
                     f"guided_noise(conditional, unconditional, guidance_weight={w})")


# ---- The denoiser (denoiser.py) ------------------------------------------------------------

@check(points=1, uses=DENOISER, task="`SinusoidalEmbedding.call`",
       hint="half = dim // 2 frequencies exp(-log(max_period) * k / half); the sines of "
            "t * w_k, then the cosines")
def sinusoidal_embedding(lab, rng):
    """Embeddings of t = 0, 1, 99 and random t, for two sizes and periods."""
    t = np.concatenate([[0, 1, 99], rng.integers(0, 1000, size=5)]).astype(np.int32)
    layer = lab.denoiser.SinusoidalEmbedding
    return {"dim=16": layer(16)(tensor(t, "int32")),
            "dim=6, max_period=100": layer(6, max_period=100.0)(tensor(t, "int32"))}


@sinusoidal_embedding.verdict
def _(student, reference):
    for args, expected in reference.items():
        expect_close(student[args], expected,
                     f"SinusoidalEmbedding({args})(t) for t = 0, 1, 99, ...", rtol=1e-4, atol=1e-4)


@check(points=2, uses=DENOISER, task="`MLPDenoiser.build`, `MLPDenoiser.call`",
       hint="build(): every sublayer on the shape it sees; call(): input_projection(x_t) + "
            "time_projection(time_embedding(t)) [+ label_embedding(labels)], silu, hidden, output")
def mlp_denoiser(lab, rng):
    """Weight counts, output shapes, no labels = the null label, the labels and t reach
    the output, from_config(get_config())."""
    MLPDenoiser = lab.denoiser.MLPDenoiser
    net = MLPDenoiser(data_dim=3, hidden_units=16, depth=2, embedding_dim=8, num_classes=4)
    net.build((None, 3))
    built = int(net.count_params())
    x = tensor(rng.normal(size=(10, 3)))
    t = tensor(rng.integers(0, 100, size=10), "int32")
    labels = tensor(np.arange(10) % 4, "int32")
    plain = MLPDenoiser(data_dim=2, hidden_units=8, depth=1, embedding_dim=4)
    plain.build((None, 2))
    copy = MLPDenoiser.from_config(net.get_config())
    copy.build((None, 3))
    copy.set_weights(net.get_weights())
    return {"built_params": built, "plain_params": int(plain.count_params()),
            "out": net(x, t, labels), "other_labels": net(x, t, (labels + 1) % 4),
            "null_labels": net(x, t, tensor(np.full(10, 4), "int32")),
            "no_labels": net(x, t), "other_t": net(x, (t + 7) % 100, labels),
            "copy": copy(x, t, labels), "plain_out": plain(x[:, :2], t)}


@mlp_denoiser.verdict
def _(student, reference):
    for key, net in (("built_params", "MLPDenoiser(data_dim=3, hidden_units=16, depth=2, "
                                      "embedding_dim=8, num_classes=4)"),
                     ("plain_params", "MLPDenoiser(data_dim=2, hidden_units=8, depth=1, "
                                      "embedding_dim=4)")):
        expect_true(student[key] == reference[key],
                    f"{net}.build() creates {student[key]} weights, the reference "
                    f"{reference[key]}: is every sublayer built, on the right input size?")
    out = expect_shape(student["out"], (10, 3), "MLPDenoiser(data_dim=3)(x_t (10, 3), t, labels)")
    expect_finite(out, "the MLPDenoiser's output")
    expect_shape(student["plain_out"], (10, 2), "MLPDenoiser(data_dim=2)(x_t (10, 2), t)")
    expect_close(student["no_labels"], student["null_labels"],
                 "MLPDenoiser(x_t, t) without labels, against labels all equal to num_classes "
                 "(the 'no label' class)")
    for key, change in (("other_labels", "other labels"), ("other_t", "other timesteps")):
        embedding = "label" if key == "other_labels" else "time"
        expect_true(not np.allclose(student[key], out),
                    f"the MLPDenoiser's output does not change with {change}: the {embedding} "
                    "embedding must reach the output")
    expect_close(student["copy"], out,
                 "MLPDenoiser.from_config(get_config()) with the same weights")
