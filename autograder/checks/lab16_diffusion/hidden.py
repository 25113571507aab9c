"""Hidden checks of lab16_diffusion: fresh shapes, sizes and schedules; references from the
solution. The last one trains a class-conditional model with the student's own MLPDenoiser,
schedule, loss, label dropout and EMA (no stand-ins) and samples it with classifier-free
guidance: the whole lab at once."""
import json

import numpy as np

from autograder.api import check
from autograder.check_helpers import energy_distance, judge_relative_training, scalar, tensor
from autograder.checks.lab16_diffusion.probes import (
    DENOISER,
    FORWARD,
    GUIDANCE,
    MODEL,
    REVERSE,
    SCORE,
    ProbeSchedule,
    build_diffusion,
    gaussian_noise_predictor,
    known_log_snr,
    per_example,
    random_alpha_bars,
    random_betas,
    random_log_snr,
    timesteps,
)
from autograder.checks.lab16_diffusion.probes_unet import CLASSIFIER_GUIDANCE, UNET
from autograder.checks.lab16_diffusion.sampling import judge_ddim_timesteps
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_finite,
    expect_true,
)

# The budget of guidance_learns_classes: the student's MLPDenoiser, labelled moons.
CONDITIONAL = {"data": "moons", "num_steps": 50, "hidden_units": 64, "learning_rate": 3e-3,
               "batch_size": 128, "steps": 800, "ema_decay": 0.99, "label_dropout": 0.2}
# Guided samples may land on their own class's moon this much less often than the reference's.
ACCURACY_MARGIN = 0.05


@check(points=1, uses=FORWARD, hint="the schedules must work for any number of steps T, and "
                                    "NoiseSchedule for any betas")
def schedules_other_sizes(lab, rng):
    fp = lab.forward_process
    steps = [int(v) for v in rng.integers(2, 300, size=2)]
    betas = random_betas(rng, int(rng.integers(2, 40)), high=0.5)
    schedule = fp.NoiseSchedule(betas)
    return {"steps": steps, "linear": fp.linear_betas(steps[0]),
            "cosine": fp.cosine_betas(steps[1]), "alpha_bars": schedule.alpha_bars,
            "alpha_bars_prev": schedule.alpha_bars_prev}


@schedules_other_sizes.verdict
def _(student, reference):
    T1, T2 = reference["steps"]
    expect_close(student["linear"], reference["linear"], f"linear_betas({T1})")
    expect_close(student["cosine"], reference["cosine"], f"cosine_betas({T2})")
    expect_close(student["alpha_bars"], reference["alpha_bars"], "NoiseSchedule(betas).alpha_bars")
    expect_close(student["alpha_bars_prev"], reference["alpha_bars_prev"],
                 "NoiseSchedule(betas).alpha_bars_prev")


@check(points=1, uses=FORWARD, hint="q_sample and the loss must broadcast alpha_bar_t over every "
                                    "data axis: x0 may be (N, H, W, C) images")
def q_sample_and_loss_on_images(lab, rng):
    n = int(rng.integers(2, 9))
    x0, noise = rng.normal(size=(n, 4, 4, 1)), rng.normal(size=(n, 4, 4, 1))
    t = timesteps(rng, n, 30)
    alpha_bars = tensor(random_alpha_bars(rng, 30))
    fp = lab.forward_process
    return {"x_t": fp.q_sample(tensor(x0), t, tensor(noise), alpha_bars),
            "loss": scalar(fp.noise_prediction_loss(lambda x_t, t: 0.3 * x_t, tensor(x0), t,
                                                    tensor(noise), alpha_bars),
                           "noise_prediction_loss")}


@q_sample_and_loss_on_images.verdict
def _(student, reference):
    expect_close(student["x_t"], reference["x_t"], "q_sample on (N, 4, 4, 1) images")
    expect_close(student["loss"], reference["loss"], "noise_prediction_loss on (N, 4, 4, 1) images")


@check(points=1, uses=REVERSE, hint="the reverse steps must work for any data size D and any "
                                    "schedule, with t per example")
def reverse_steps_other_shapes(lab, rng):
    T = int(rng.integers(5, 60))
    schedule = ProbeSchedule(random_log_snr(rng, T))
    n, d = int(rng.integers(4, 20)), int(rng.integers(1, 6))
    x0, x_t, eps, noise = (rng.normal(size=(n, d)) for _ in range(4))
    t = timesteps(rng, n, T, include=(0, T - 1))
    t_from = rng.integers(1, T, size=n).astype(np.int32)
    t_to = np.array([rng.integers(-1, s) for s in t_from], dtype=np.int32)
    rp = lab.reverse_process
    mean, variance = rp.posterior_mean_variance(tensor(x0), tensor(x_t), t, schedule)
    return {"n": n, "mean": mean, "variance": variance,
            "ddpm": rp.ddpm_step(tensor(x_t), t, tensor(eps), tensor(noise), schedule, "beta"),
            "ddim": rp.ddim_step(tensor(x_t), t_from, t_to, tensor(eps), schedule)}


@reverse_steps_other_shapes.verdict
def _(student, reference):
    n = reference["n"]
    expect_close(student["mean"], reference["mean"], "posterior_mean_variance's mean on (N, D)")
    expect_close(per_example(student["variance"], n, "posterior_mean_variance's variance"),
                 reference["variance"], "posterior_mean_variance's variance on (N, D)")
    expect_close(student["ddpm"], reference["ddpm"], "ddpm_step(variance='beta') on (N, D)")
    expect_close(student["ddim"], reference["ddim"], "ddim_step on (N, D)")


@check(points=1, uses=REVERSE, hint="ddim_timesteps for any T and number of steps; ddim_sample "
                                    "with every timestep visited")
def ddim_other_subsequences(lab, rng):
    rp = lab.reverse_process
    pairs = [(int(T), int(rng.integers(1, T + 1))) for T in rng.integers(2, 500, size=4)]
    schedule = ProbeSchedule(known_log_snr(20))
    predict = gaussian_noise_predictor(schedule, [0.0, 2.0], 1.5)
    return {"pairs": pairs, "timesteps": [np.asarray(rp.ddim_timesteps(T, S)).astype(np.int64)
                                          for T, S in pairs],
            "samples": rp.ddim_sample(predict, tensor(rng.normal(size=(200, 2))), schedule, 20)}


@ddim_other_subsequences.verdict
def _(student, reference):
    for (T, S), got, expected in zip(reference["pairs"], student["timesteps"],
                                     reference["timesteps"]):
        judge_ddim_timesteps(got, expected, T, S)
    expect_close(student["samples"], reference["samples"],
                 "ddim_sample visiting all 20 timesteps of a 20-step schedule",
                 rtol=1e-3, atol=1e-4)


@check(points=1, uses=SCORE, hint="score matching and Langevin steps for any D, with a scalar "
                                  "sigma too")
def score_matching_other_shapes(lab, rng):
    sm = lab.score_matching
    n, d = int(rng.integers(2, 30)), int(rng.integers(1, 6))
    score, noise, x = (rng.normal(size=(n, d)) for _ in range(3))
    sigma = float(rng.uniform(0.05, 3.0))
    return {"loss": scalar(sm.denoising_score_matching_loss(tensor(score), tensor(noise), sigma),
                           "denoising_score_matching_loss"),
            "step": sm.langevin_step(tensor(x), tensor(score), sigma ** 2, tensor(noise)),
            "sizes": np.asarray(sm.annealed_step_sizes(np.geomspace(5.0, 0.01, 5), sigma),
                                dtype=np.float64)}


@score_matching_other_shapes.verdict
def _(student, reference):
    expect_close(student["loss"], reference["loss"], "denoising_score_matching_loss with a "
                                                     "scalar sigma on (N, D)")
    expect_close(student["step"], reference["step"], "langevin_step on (N, D)")
    expect_close(student["sizes"], reference["sizes"], "annealed_step_sizes on other sigmas")


@check(points=1, uses=GUIDANCE, hint="drop_labels keeps every label at probability 0 and drops "
                                     "every one at 1; guided_noise for any w and shape")
def guidance_other_inputs(lab, rng):
    g = lab.guidance
    n = int(rng.integers(5, 40))
    labels = tensor(rng.integers(0, 7, size=n), "int64")
    uniform = tensor(rng.random(size=n))
    conditional, unconditional = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    w = float(rng.uniform(0.1, 5.0))
    return {"kept": np.asarray(g.drop_labels(labels, uniform, 0.0, 7)).astype(np.int64),
            "dropped": np.asarray(g.drop_labels(labels, uniform, 1.0, 7)).astype(np.int64),
            "guided": g.guided_noise(tensor(conditional), tensor(unconditional), w),
            "conditional": conditional, "unconditional": unconditional, "w": w}


@guidance_other_inputs.verdict
def _(student, reference):
    expect_equal(student["kept"], reference["kept"], "drop_labels with drop_probability=0")
    expect_equal(student["dropped"], reference["dropped"], "drop_labels with drop_probability=1")
    w, c, u = reference["w"], reference["conditional"], reference["unconditional"]
    expect_close_naming(student["guided"], reference["guided"], f"guided_noise(w={w:.3g})", [
        ((1 - w) * c + w * u,
         "moves toward the unconditional prediction: the sign of w is flipped")])


@check(points=1, uses=DENOISER, hint="MLPDenoiser for any data_dim, depth and num_classes; "
                                     "SinusoidalEmbedding for any even dim")
def denoiser_other_sizes(lab, rng):
    dn = lab.denoiser
    dim = 2 * int(rng.integers(1, 12))
    t = tensor(rng.integers(0, 500, size=6), "int32")
    data_dim, depth, classes = (int(v) for v in rng.integers(1, 6, size=3))
    net = dn.MLPDenoiser(data_dim=data_dim, hidden_units=12, depth=depth, embedding_dim=dim,
                         num_classes=classes)
    net.build((None, data_dim))
    out = net(tensor(rng.normal(size=(6, data_dim))), t, tensor(np.arange(6) % classes, "int32"))
    return {"embedding": dn.SinusoidalEmbedding(dim, max_period=50.0)(t),
            "params": int(net.count_params()), "shape": list(np.shape(out)), "dim": dim,
            "expected_shape": [6, data_dim]}


@denoiser_other_sizes.verdict
def _(student, reference):
    expect_close(student["embedding"], reference["embedding"],
                 f"SinusoidalEmbedding({reference['dim']}, max_period=50)(t)", rtol=1e-4, atol=1e-4)
    expect_true(student["params"] == reference["params"],
                f"MLPDenoiser of another size creates {student['params']} weights, the reference "
                f"{reference['params']}")
    expect_true(list(student["shape"]) == list(reference["expected_shape"]),
                f"MLPDenoiser(data_dim={reference['expected_shape'][1]}) returns shape "
                f"{student['shape']}, expected {reference['expected_shape']}")


# ---- The whole lab trained at once: the checks' own DDPM sampler (hidden only) -------------

def numpy_schedule(betas):
    """alphas, alpha_bars and alpha_bars_prev of `betas`, in float64 numpy."""
    betas = np.asarray(betas, dtype=np.float64)
    alphas = 1.0 - betas
    alpha_bars = np.cumprod(alphas)
    return {"betas": betas, "alphas": alphas, "alpha_bars": alpha_bars,
            "alpha_bars_prev": np.concatenate([[1.0], alpha_bars[:-1]])}


def ancestral_samples(predict_noise, betas, x_T, noises):
    """The checks' own DDPM sampler (posterior variance), in float64 numpy around the network."""
    s = numpy_schedule(betas)
    x = np.asarray(x_T, dtype=np.float64)
    for t in reversed(range(len(betas))):
        eps = np.asarray(predict_noise(x.astype(np.float32), np.full(len(x), t, np.int32)),
                         dtype=np.float64)
        a, a_prev, beta = s["alpha_bars"][t], s["alpha_bars_prev"][t], s["betas"][t]
        x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
        x = (np.sqrt(a_prev) * beta * x0 + np.sqrt(s["alphas"][t]) * (1 - a_prev) * x) / (1 - a)
        if t > 0:
            x = x + np.sqrt((1 - a_prev) / (1 - a) * beta) * noises[t]
    return x.astype(np.float32)


def trained_distance(output):
    """Energy distance of the samples to held-out data, per class, averaged over classes."""
    classes = np.unique(output["heldout_labels"])
    return float(np.mean([energy_distance(output["samples"][output["labels"] == k],
                                          output["heldout"][output["heldout_labels"] == k])
                          for k in classes]))


def class_accuracy(output, key):
    """The fraction of the samples `key` whose nearest held-out point has their class."""
    samples, heldout = output[key].astype(np.float64), output["heldout"].astype(np.float64)
    nearest = (((samples[:, None, :] - heldout[None, :, :]) ** 2).sum(-1)).argmin(axis=1)
    return float(np.mean(output["heldout_labels"][nearest] == output["labels"]))


# Over training seeds the reference lands between 0.018 and 0.030 (pure noise: 0.15 to 0.2).
FACTOR, SLACK = 2.5, 0.03


@check(points=2, uses=MODEL + DENOISER, timeout=60,
       hint="with labels: drop_labels in train_step (null label num_classes), the label "
            "embedding in MLPDenoiser, guided_noise in predict_noise; each class's samples must "
            "land on its own moon")
def guidance_learns_classes(lab, rng):
    import tensorflow as tf

    from dlkit.data import toy2d_classification
    network = lab.denoiser.MLPDenoiser(data_dim=2, hidden_units=64, depth=3, embedding_dim=32,
                                       num_classes=2)
    model, data, seed = build_diffusion(lab, rng, CONDITIONAL, network=network, num_classes=2)
    history = model.fit(data, epochs=1, steps_per_epoch=CONDITIONAL["steps"], verbose=0).history
    heldout, heldout_labels = toy2d_classification(CONDITIONAL["data"], 1000, seed=seed + 1)
    n = 1000
    labels = (np.arange(n) % 2).astype(np.int32)
    x_T = rng.normal(size=(n, 2)).astype(np.float32)
    noises = rng.normal(size=(CONDITIONAL["num_steps"], n, 2))
    betas = np.asarray(model.schedule.betas, dtype=np.float64)
    out = {"labels": labels, "heldout": heldout, "heldout_labels": heldout_labels.astype(np.int32),
           "noise": x_T, "logged": json.dumps(sorted(history))}
    for key, weight in (("samples", 0.0), ("guided", 2.0)):
        predict = tf.function(lambda x_t, t, w=weight: model.predict_noise(
            x_t, t, tf.constant(labels), guidance_weight=w))
        out[key] = ancestral_samples(predict, betas, x_T, noises)
    return out


@guidance_learns_classes.verdict
def _(student, reference):
    logged = json.loads(student["logged"])
    expect_true(logged == ["loss"], f"fit() logged {logged}; train_step must return exactly "
                                    "{'loss': ...} (the tracker's result)")
    expect_finite(student["samples"], "samples of the trained model")
    judge_relative_training(
        trained_distance(student), trained_distance({**student, "samples": student["noise"]}),
        trained_distance(reference), "the energy distance between the EMA network's samples "
        "and held-out moons data (per class, no guidance)", improve_to=1 / 3, factor=FACTOR,
        slack=SLACK)
    expect_finite(student["guided"], "samples with guidance weight 2")
    accuracy, target = class_accuracy(student, "guided"), class_accuracy(reference, "guided")
    expect_true(accuracy >= target - ACCURACY_MARGIN,
                f"with guidance weight 2, {accuracy:.1%} of the samples land on the moon of their "
                f"class, the reference's {target:.1%}: guidance must push each sample toward "
                "its own class")


# ---- The U-Net and classifier guidance on other shapes ------------------------------------

@check(points=1, uses=UNET, hint="FiLM for any channels; the U-Net for any image size "
                                 "divisible by 4, any number of channels, with labels")
def unet_other_shapes(lab, rng):
    """FiLM with 7 channels on (2, 3, 5, 7) features and the checks' weights; a conditional
    U-Net (4 classes, the checks' blocks and embedding, weights of the checks) on 12x12
    images of 3 channels, with labels and without, against the reference."""
    from autograder.checks.lab16_diffusion.public_unet import stand_in_unet
    film = lab.unet.FiLM(7)
    h = tensor(rng.normal(size=(2, 3, 5, 7)))
    condition = tensor(rng.normal(size=(2, 9)))
    film(h, condition)
    film.projection.set_weights([(0.5 * rng.normal(size=(9, 14))).astype("float32"),
                                 (0.5 * rng.normal(size=14)).astype("float32")])
    net = stand_in_unet(lab, rng, image_shape=(12, 12, 3), num_classes=4)
    x = tensor(rng.normal(size=(3, 12, 12, 3)))
    t = tensor([1, 8, 19], "int32")
    return {"film": np.asarray(film(h, condition)),
            "labels": np.asarray(net(x, t, tensor([3, 0, 4], "int32"))),
            "no_labels": np.asarray(net(tensor(np.asarray(x).reshape(3, -1)), t))}


@unet_other_shapes.verdict
def _(student, reference):
    expect_close(student["film"], reference["film"], "FiLM(7) on (2, 3, 5, 7) features",
                 rtol=1e-4, atol=1e-5)
    expect_close(student["labels"], reference["labels"], "a conditional U-Net (4 classes) on "
                 "(3, 12, 12, 3) images with labels", rtol=1e-4, atol=1e-5)
    expect_close(student["no_labels"], reference["no_labels"], "the same U-Net on flat vectors "
                 "without labels (the null label)", rtol=1e-4, atol=1e-5)


@check(points=1, uses=CLASSIFIER_GUIDANCE, hint="the gradient of log_softmax of any "
       "classifier's logits, for inputs of any shape; alpha_bar_t per example")
def classifier_guidance_other_classifier(lab, rng):
    """The guided predictor on (4, 2, 3, 2) inputs with a nonlinear classifier of the checks
    (5 classes, tanh features and a quadratic term, large logits) and a noise model of the
    checks, w = 1.5, against the reference."""
    import tensorflow as tf
    cg = lab.classifier_guidance
    hidden_w = tensor(rng.normal(size=(12, 8)))
    out_w = tensor(3.0 * rng.normal(size=(8, 5)))
    quad = tensor(rng.normal(size=(12, 5)))

    def classifier(x_t, t):
        flat = tf.reshape(tf.cast(x_t, tf.float32), (-1, 12))
        time = tf.cast(tf.reshape(t, (-1, 1)), tf.float32) / 7.0
        return tf.tanh(flat @ hidden_w + time) @ out_w + (flat * flat) @ quad

    def predict_noise(x_t, t):
        return tf.sin(x_t) * tf.cast(tf.reshape(t, (-1, 1, 1, 1)), tf.float32) / 10.0

    alpha_bars = tensor(random_alpha_bars(rng, 15))
    x = tensor(rng.normal(size=(4, 2, 3, 2)))
    t = tensor([0, 14, 6, 3], "int32")
    labels = tensor([4, 0, 2, 2], "int32")
    guided = cg.classifier_guided_predictor(predict_noise, classifier, labels, alpha_bars, 1.5)
    return {"gradient": np.asarray(cg.class_log_prob_gradient(classifier, x, t, labels)),
            "guided": np.asarray(guided(x, t))}


@classifier_guidance_other_classifier.verdict
def _(student, reference):
    expect_close(student["gradient"], reference["gradient"], "class_log_prob_gradient with a "
                 "nonlinear classifier of 5 classes on (4, 2, 3, 2) inputs", rtol=1e-4, atol=1e-5)
    expect_close(student["guided"], reference["guided"], "the guided predictor's noise with "
                 "that classifier and w = 1.5", rtol=1e-4, atol=1e-5)
