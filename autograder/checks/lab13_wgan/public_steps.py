"""Public checks of lab13_wgan, part 3: the steps of the WGAN model (wgan_model.py).

Each step runs on the check's own networks with stand-in losses and penalty, fixed noise
and plain SGD (probes.py), so its update is compared with the reference's exactly,
whatever state wgan_losses.py and fgan_losses.py are in.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, tensor
from autograder.checks.lab13_wgan.probes import (
    MODEL,
    SGD_RATE,
    compiled_wgan,
    gradient_wrt,
    probe_networks,
    run_step,
    standin_critic_loss,
    standin_fgan_critic_loss,
    standin_generator_loss,
    standin_gradient_penalty,
    standin_losses,
    step_outputs,
    step_wgan,
    weights_of,
)
from autograder.verdicts import expect_close, expect_finite, expect_true, expect_update

BATCH = 48
UPDATE = "(plain SGD, divided by its learning rate: the gradient it applied)"


def critic_objective(divergence):
    if divergence == "wasserstein":
        return standin_critic_loss
    return lambda real, fake: standin_fgan_critic_loss(real, fake, divergence)


def critic_update_probe(lab, rng, gp_weight, divergence="wasserstein"):
    """One critic_step with stand-ins, fixed noise and SGD; its update, and the updates
    the usual slips would give."""
    with standin_losses(lab):
        model, generator, critic, real, z, points, given = step_wgan(
            lab, rng, BATCH, gp_weight=gp_weight, divergence=divergence)
        fake = generator(z)
        variables = critic.trainable_variables

        def loss(objective=critic_objective(divergence)):
            return objective(critic(real), critic(fake))
        mistakes = {
            "without_penalty": gradient_wrt(variables, loss),
            "penalty_at_real": gradient_wrt(variables, lambda: (
                loss() + gp_weight * standin_gradient_penalty(critic, real))),
            "unweighted": gradient_wrt(variables, lambda: (
                loss() + standin_gradient_penalty(critic, points))),
            "wasserstein": gradient_wrt(variables, lambda: (
                loss(standin_critic_loss) + gp_weight * standin_gradient_penalty(critic, points)))}
        g_before, c_before = weights_of(generator), weights_of(critic)
        what = f"critic_step (gp_weight={gp_weight:g}, divergence={divergence!r})"
        loss, penalty = step_outputs(run_step("critic_step", model.critic_step, real), what)
        return {"loss": loss, "penalty": penalty, "mistakes": mistakes, "gp_weight": gp_weight,
                "interpolates_given": given,
                "real_and_fake": [float(np.sum(real)), float(np.sum(fake))],
                "update": (c_before - weights_of(critic)) / SGD_RATE,
                "generator_change": float(np.abs(weights_of(generator) - g_before).max())}


EXPLANATIONS = {
    "wasserstein": "it trains with the Wasserstein critic_loss whatever the divergence: take "
                   "loss = self.critic_objective(real_scores, fake_scores)",
    "without_penalty": "the update ignores the gradient penalty: compute the penalty inside the "
                       "critic's tape and add gp_weight * penalty to the loss",
    "penalty_at_real": "the penalty is taken at the real samples; take it at "
                       "self.sample_interpolates(real, fake)",
    "unweighted": "the penalty is added without its weight: the total is loss + "
                  "self.gp_weight * penalty",
}


def judge_interpolates_given(student, what):
    """With a penalty, critic_step asked self.sample_interpolates for points between the
    real batch and its fakes (in either order: alpha and 1 - alpha are both uniform)."""
    given = [sorted(sums) for sums in student["interpolates_given"]]
    expected = sorted(student["real_and_fake"])
    expect_true(all(np.allclose(sums, expected, rtol=1e-4, atol=1e-3) for sums in given),
                f"{what} called self.sample_interpolates on samples that are not the real "
                "batch and its fakes: take the penalty at self.sample_interpolates(real, fake)")


def judge_critic_update(student, reference, what):
    expect_true(student["generator_change"] == 0,
                f"{what} changed the generator's weights (by up to "
                f"{student['generator_change']:.3g}): a critic step updates the critic only "
                "(fakes are inputs here, made outside the tape)")
    gradient = np.asarray(student["update"], dtype=np.float64)
    expect_true(np.abs(gradient).max() > 0,
                f"{what} left the critic's weights unchanged: take the gradients w.r.t. "
                "critic.trainable_variables and apply them with critic_optimizer")
    explanations = {name: message for name, message in EXPLANATIONS.items()
                    if not np.allclose(student["mistakes"][name], reference["update"],
                                       rtol=1e-3, atol=1e-5)}
    advice = ("the critic's total loss is self.critic_objective(real_scores, fake_scores) + "
              "gp_weight * gradient_penalty(self.critic, self.sample_interpolates(real, fake)), "
              "all inside the critic's tape")
    if student["gp_weight"] > 0 and not student["interpolates_given"]:
        advice = ("it never calls self.sample_interpolates(real, fake): the penalty is taken "
                  "at the points that method returns (a check's stand-in here)")
    expect_update(gradient, reference["update"], f"the critic's update in {what} {UPDATE}",
                  advice, student["mistakes"], explanations)
    judge_interpolates_given(student, what)
    expect_close(student["loss"], reference["loss"], f"the loss {what} returns (without the "
                 "penalty)", rtol=1e-4, atol=1e-6)


@check(points=2, uses=MODEL, task="`WGAN.critic_step`",
       hint="critic_step: fakes outside the tape; inside it the critic's scores and "
            "self.critic_objective; gradients w.r.t. critic.trainable_variables only, applied "
            "with critic_optimizer; return (loss, penalty)")
def critic_step(lab, rng):
    """One critic step without penalty, for a WGAN and a KL f-GAN, with stand-in losses,
    fixed noise and SGD: the critic's update is the reference's (the gradient of
    critic_objective, whatever the divergence), the generator does not change, and the step
    returns the reference's loss and a zero penalty."""
    return {divergence: critic_update_probe(lab, rng, gp_weight=0.0, divergence=divergence)
            for divergence in ("wasserstein", "kl")}


@critic_step.verdict
def _(student, reference):
    for divergence in ("wasserstein", "kl"):
        what = f"critic_step (gp_weight=0, divergence={divergence!r})"
        judge_critic_update(student[divergence], reference[divergence], what)
        penalty = float(student[divergence]["penalty"])
        expect_true(penalty == 0.0, f"{what} returned penalty {penalty:.4g}; expected 0")


@check(points=2, uses=MODEL, task="`WGAN.critic_step`, with the penalty",
       hint="with gp_weight > 0 the critic's loss is critic_objective + gp_weight * "
            "gradient_penalty(self.critic, self.sample_interpolates(real, fake)), all inside "
            "the critic's tape")
def critic_step_with_penalty(lab, rng):
    """One critic step with gp_weight=10, a stand-in penalty, fixed noise and SGD: the
    update is the reference's (the penalty at the interpolates, weighted, inside the tape),
    and the step returns the reference's loss and penalty."""
    return critic_update_probe(lab, rng, gp_weight=10.0)


@critic_step_with_penalty.verdict
def _(student, reference):
    judge_critic_update(student, reference, "critic_step (gp_weight=10)")
    expect_close(student["penalty"], reference["penalty"],
                 "the penalty critic_step returns (at the interpolates, before the update)",
                 rtol=1e-3, atol=1e-5)


def variable_names(model):
    return [f"{v.path if hasattr(v, 'path') else v.name} {tuple(v.shape)}"
            for v in model.trainable_variables]


@check(points=1, uses=MODEL, task="`WGAN.clip_critic_weights`",
       hint="clip_critic_weights: v.assign(tf.clip_by_value(v, -c, c)) for every variable of "
            "self.critic.trainable_variables (kernels and biases), nothing else; critic_step "
            "calls it after the update")
def weight_clipping(lab, rng):
    """clip_critic_weights clips every critic variable (biases too) of a critic with large
    random weights to [-c, c] and leaves the generator alone; a critic step with clip_value
    set ends with the reference's clipped weights."""
    clip = 0.05
    with standin_losses(lab):
        model, generator, critic, real, *_ = step_wgan(lab, rng, 32, gp_weight=0.0,
                                                        clip_value=clip)
        before = [v.numpy() for v in critic.trainable_variables]
        g_before = weights_of(generator)
        run_step("clip_critic_weights", model.clip_critic_weights)
        out = {"clip": clip, "names": variable_names(critic), "before": before,
               "clipped": [v.numpy() for v in critic.trainable_variables],
               "generator_change": float(np.abs(weights_of(generator) - g_before).max())}
        assign_random_weights(critic, rng, scale=0.3)
        run_step("critic_step", model.critic_step, real)
        out["after_step"] = weights_of(critic)
    return out


@weight_clipping.verdict
def _(student, reference):
    clip = student["clip"]
    for name, before, clipped in zip(student["names"], student["before"], student["clipped"]):
        expect_close(clipped, np.clip(before, -clip, clip),
                     f"the critic variable {name} after clip_critic_weights() with "
                     f"clip_value={clip}", against="its values clipped to [-c, c] (every "
                     "variable of the critic, kernels and biases alike)")
    expect_true(student["generator_change"] == 0,
                f"clip_critic_weights changed the generator's weights (by up to "
                f"{student['generator_change']:.3g}): clip the critic's variables only")
    after = np.abs(np.asarray(student["after_step"], dtype=np.float64))
    expect_true(after.max() <= clip * (1 + 1e-6),
                f"after critic_step with clip_value={clip} a critic weight is "
                f"{after.max():.3g} in absolute value: call self.clip_critic_weights() after "
                "the optimizer's update, not before")
    expect_close(student["after_step"], reference["after_step"],
                 f"the critic's weights after critic_step with clip_value={clip} (update, "
                 "then clip)", rtol=1e-3, atol=1e-6)


@check(points=2, uses=MODEL, task="`WGAN.generator_step`",
       hint="in the tape: z = self.sample_latent(batch_size), the critic's scores on G(z), "
            "loss = self.generator_objective(scores); gradients w.r.t. "
            "generator.trainable_variables only, applied with generator_optimizer")
def generator_step(lab, rng):
    """One generator step, for a WGAN and a JS f-GAN, with stand-in losses, fixed noise and
    SGD: the generator's update is the reference's (the gradient, through the critic, of
    generator_objective), the critic does not change, and the returned loss is the
    reference's."""
    out = {}
    with standin_losses(lab):
        for divergence in ("wasserstein", "js"):
            model, generator, critic, _, z, *_ = step_wgan(lab, rng, BATCH,
                                                           divergence=divergence)
            wasserstein = gradient_wrt(generator.trainable_variables,
                                       lambda: standin_generator_loss(critic(generator(z))))
            g_before, c_before = weights_of(generator), weights_of(critic)
            loss = run_step("generator_step", model.generator_step, BATCH)
            out[divergence] = {
                "loss": np.asarray(loss, dtype=np.float64),
                "update": (g_before - weights_of(generator)) / SGD_RATE,
                "mistakes": {"wasserstein": wasserstein},
                "critic_change": float(np.abs(weights_of(critic) - c_before).max())}
    return out


@generator_step.verdict
def _(student, reference):
    for divergence in ("wasserstein", "js"):
        what = f"generator_step (divergence={divergence!r})"
        got, want = student[divergence], reference[divergence]
        expect_true(got["critic_change"] == 0,
                    f"{what} changed the critic's weights (by up to {got['critic_change']:.3g})"
                    ": the gradient flows through the critic, but only the generator's "
                    "variables are updated")
        explanations = {} if divergence == "wasserstein" else {
            "wasserstein": "it trains with the Wasserstein generator_loss whatever the "
                           "divergence: take loss = self.generator_objective(fake_scores)"}
        expect_update(got["update"], want["update"], f"the generator's update in {what} "
                      f"{UPDATE}", "take the gradient of self.generator_objective(the critic's "
                      "scores on G(z)) w.r.t. generator.trainable_variables",
                      got["mistakes"], explanations)
        expect_finite(got["loss"], f"the loss {what} returns")
        expect_close(got["loss"], want["loss"], f"the loss {what} returns", rtol=1e-4, atol=1e-6)


def standin_steps(model):
    """Replace the model's two steps by stand-ins that record how train_step calls them:
    the k-th critic step returns (k, 10 k), the generator step its batch size."""
    import tensorflow as tf
    calls = []

    def critic_step(real):
        calls.append({"step": "critic", "size": int(tf.shape(real)[0]),
                      "sum": float(tf.reduce_sum(real))})
        k = float(sum(call["step"] == "critic" for call in calls))
        return tf.constant(k), tf.constant(10.0 * k)

    def generator_step(batch_size):
        calls.append({"step": "generator", "size": int(batch_size)})
        return tf.constant(float(int(batch_size)))
    model.critic_step, model.generator_step = critic_step, generator_step
    return calls


@check(points=2, uses=MODEL, reference=False, task="`WGAN.train_step`",
       hint="train_step: n_critic critic_step(real) in a loop (keras.ops.fori_loop, or a "
            "Python for), then ONE generator_step(tf.shape(real)[0]); update the critic_loss, "
            "penalty and generator_loss trackers with the last critic step's values")
def train_step_runs_n_critic_steps(lab, rng):
    """Two train_steps with n_critic=3 on stand-in steps: three critic steps on the real
    batch, then one generator step with as many fakes as real samples, each time; the last
    critic step's loss and penalty and the generator's loss are logged."""
    n_critic, steps = 3, 2
    generator, critic = probe_networks()
    model = lab.wgan_model.WGAN(generator, critic, latent_dim=2, n_critic=n_critic)
    real = tensor(rng.normal(size=(BATCH, 2)))
    calls = standin_steps(model)
    logs = {}
    for _ in range(steps):
        logs = run_step("train_step", model.train_step, real)
    if not isinstance(logs, dict):
        raise TypeError(f"train_step returned {type(logs).__name__}; expected "
                        "self.trackers.results(), a dict of the three losses")
    return {"n_critic": n_critic, "train_steps": steps, "calls": calls,
            "real_sum": float(np.sum(real)), "logs": {str(k): float(v) for k, v in logs.items()}}


@train_step_runs_n_critic_steps.verdict
def _(student, reference):
    n_critic, steps = student["n_critic"], student["train_steps"]
    what = f"{steps} train_steps with n_critic={n_critic}"
    order = [call["step"] for call in student["calls"]]
    critic_calls = order.count("critic")
    expect_true(critic_calls == n_critic * steps,
                f"{what} made {critic_calls} critic steps, expected {n_critic * steps} "
                f"(n_critic per train_step)")
    expected = (["critic"] * n_critic + ["generator"]) * steps
    expect_true(order == expected,
                f"{what} called the steps in the order {order}; expected {n_critic} critic "
                "steps, then ONE generator step, in each train_step")
    for call in student["calls"]:
        if call["step"] == "critic":
            expect_true(call["size"] == BATCH and np.isclose(call["sum"], student["real_sum"]),
                        f"train_step gave critic_step a batch of {call['size']} samples that "
                        f"is not the real batch of {BATCH}")
        else:
            expect_true(call["size"] == BATCH,
                        f"train_step asked generator_step for {call['size']} fakes with a real "
                        f"batch of {BATCH}: as many fakes as real samples, tf.shape(real)[0]")
    logs = student["logs"]
    for name in ("critic_loss", "penalty", "generator_loss"):
        expect_true(name in logs, f"train_step does not report {name!r} (it reports "
                                  f"{sorted(logs)}): update and return the trackers")
    # The k-th critic step returns (k, 10 k): each train_step logs its last one, and the
    # trackers average over the train_steps.
    last = np.mean([n_critic * (i + 1) for i in range(steps)])
    first = np.mean([n_critic * i + 1 for i in range(steps)])
    if np.isclose(logs["critic_loss"], first) and n_critic > 1:
        raise CheckFailed("train_step reports the first critic step's loss; report the last "
                          "one's (loss, penalty)")
    for name, value in (("critic_loss", last), ("penalty", 10 * last),
                        ("generator_loss", float(BATCH))):
        expect_close(logs[name], value, f"{name} reported by train_step (the mean over "
                     f"{steps} train_steps of the last critic step's loss and penalty, and of "
                     "the generator step's loss, on stand-in steps)",
                     against="what the steps returned")


@check(points=1, uses=MODEL, reference=False, task="`WGAN.get_config`",
       hint="get_config must also store n_critic, gp_weight, clip_value and divergence")
def wgan_saves_and_loads(lab, rng):
    """A WGAN saved as .keras loads back as a WGAN with its n_critic, gp_weight, clip_value
    and divergence, and networks that compute the same outputs."""
    import keras
    generator, critic = probe_networks()
    model = compiled_wgan(lab, generator, critic, latent_dim=2, n_critic=3, gp_weight=0.0,
                          clip_value=0.02, divergence="pearson")
    model.save("wgan.keras")
    loaded = keras.models.load_model("wgan.keras")
    z, x = tensor(rng.normal(size=(16, 2))), tensor(rng.normal(size=(16, 2)))
    return {"class": type(loaded).__name__,
            "config": {"n_critic": loaded.n_critic, "gp_weight": loaded.gp_weight,
                       "clip_value": loaded.clip_value, "divergence": loaded.divergence},
            "samples": generator(z), "loaded_samples": loaded.generator(z),
            "scores": critic(x), "loaded_scores": loaded.critic(x)}


@wgan_saves_and_loads.verdict
def _(student, reference):
    expect_true(student["class"] == "WGAN", f"load_model gave a {student['class']}, not a WGAN")
    saved = {"n_critic": 3, "gp_weight": 0.0, "clip_value": 0.02, "divergence": "pearson"}
    got = student["config"]
    expect_true(got == saved, f"the reloaded WGAN has {got}; it was saved with {saved} "
                              "(get_config must store them)")
    expect_close(student["loaded_samples"], student["samples"],
                 "the reloaded WGAN's generator on the same z")
    expect_close(student["loaded_scores"], student["scores"],
                 "the reloaded WGAN's critic on the same x")
