"""Public checks of lab13b_image_translation, part 5: one relative training run per model. The
student's Pix2Pix and CycleGAN (their losses, history and train_steps) train the checks' own
small networks (probes.translator, probes.critic) on dlkit.data.translation (Pix2Pix: paired
sketches and paintings; CycleGAN: unpaired silhouettes and paintings), and are judged by the
test L1 of the translations of held-out images against their paintings, next to the
reference trained the same way."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.checks.lab13b_image_translation.probes import (
    critic,
    one_layer,
    run_step,
    translator,
)
from autograder.verdicts import expect_at_most, expect_true

SHAPE = (16, 16, 3)
# Pix2Pix: 100 steps of 32 pairs. Over seeds 0-5 the reference's test L1 ends at
# 0.106-0.122, from 0.23-0.28 untrained (0.21 for the sketches themselves); Pix2Pix with
# l1_weight on the adversarial term ends at 0.34-0.48. A correct Pix2Pix at the same seed
# follows the reference's run up to float rounding; the margin covers the spread over seeds.
PIX2PIX_RUN = {"steps": 100, "batch": 32, "learning_rate": 3e-3, "width": 8, "l1_weight": 100.0}
PIX2PIX_MARGIN = 0.03
# CycleGAN: 40 steps of 8 unpaired silhouettes and paintings, with one-convolution translators
# (probes.one_layer: a 3x3 convolution reads a pixel's colour and whether it lies on the
# border, all a silhouette-to-painting restyling needs at this budget, at half the tracing of
# the two-scale translator). Over seeds 0-9 the reference's test L1 (G's translations of
# held-out silhouettes against their paintings) ends at 0.133-0.148 (median 0.141), from
# 0.18-0.32 untrained and 0.225-0.228 for the silhouettes themselves; with the two domains
# swapped in train_step it ends at 0.241-0.246. An untrained one-convolution G can start
# near the silhouettes' own L1, so the CycleGAN's progress is judged against that copy.
CYCLEGAN_RUN = {"steps": 40, "batch": 8, "learning_rate": 5e-3, "pool_size": 50}
CYCLEGAN_MARGIN = 0.04
IMPROVE_TO = 0.75   # the test L1 must fall at least this far from its starting value


def adam(learning_rate):
    import keras
    return keras.optimizers.Adam(learning_rate, beta_1=0.5)


def test_l1(generator, test, source):
    return float(np.mean(np.abs(np.asarray(generator(test[source])) - test["paintings"])))


def fit(model, dataset, steps, what):
    history = run_step(what, model.fit, dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return sorted(history.history)


# What to look at when a run finishes but falls short: in the verdict's message, not the
# check's hint, which a crash shows too (a crash is told by its own message).
PIX2PIX_ADVICE = ("check the labels and the L1 term of the losses, and that each optimizer "
                  "updates its own network")
CYCLEGAN_ADVICE = ("check the LSGAN targets, the cycle and identity pairings, and that the "
                   "discriminators learn from the histories")
TRAINING_HINT = ("the message names the crash's line, or what to check when the run falls "
                 "short; the unit checks above test each part of the run on its own")


@check(points=3, uses=("pix2pix",), timeout=90, task="your Pix2Pix, trained on sketches",
       hint=TRAINING_HINT)
def pix2pix_learns_shapes(lab, rng):
    """Pix2Pix (l1_weight 100) on the checks' translator and conditional critic, 100 steps
    of 32 sketch/painting pairs (Adam 3e-3, β1 = 0.5): the test L1 between the translations
    of 256 held-out sketches and their paintings falls to 75 % of its untrained value and
    ends within 0.03 of the reference's; fit logs g_loss, adversarial, l1 and d_loss."""
    from dlkit.data import arrays_dataset, make_translation_pairs
    run = PIX2PIX_RUN
    seed = int(rng.integers(1 << 30))
    train, test = make_translation_pairs(1024, seed=seed), make_translation_pairs(256, seed=seed + 1)
    generator = translator(SHAPE, run["width"])
    model = lab.pix2pix.Pix2Pix(generator, critic(SHAPE, SHAPE, run["width"]),
                                l1_weight=run["l1_weight"])
    model.compile(g_optimizer=adam(run["learning_rate"]), d_optimizer=adam(run["learning_rate"]))
    before = test_l1(generator, test, "sketches")
    dataset = arrays_dataset((train["sketches"], train["paintings"]), batch_size=run["batch"],
                             seed=seed, repeat=True)
    logged = fit(model, dataset, run["steps"], "Pix2Pix training (fit)")
    return {"before": before, "after": test_l1(generator, test, "sketches"), "logged": logged,
            "sketches": float(np.mean(np.abs(test["sketches"] - test["paintings"])))}


def judge_training(student, reference, model, names, margin, advice, start="before",
                   started="untrained"):
    """start: the output the test L1 must fall from (to IMPROVE_TO of it), what it measured
    told by `started`."""
    before, after, target = student[start], student["after"], reference["after"]
    if not np.isfinite(after):
        raise CheckFailed(f"after training, the {model}'s test L1 is {after}: training "
                          f"diverged; {advice}")
    missing = sorted(set(names) - set(student["logged"]))
    expect_true(not missing, f"fit logged {student['logged']} for the {model}; it must log "
                f"{list(names)} (the trackers' results)")
    try:
        expect_at_most(after, IMPROVE_TO * before, f"the {model}'s test L1 after training (it "
                       f"is {before:.3f} {started}: training barely moved it)")
        expect_at_most(after, target + margin, f"the {model}'s test L1 after training (the "
                       f"reference reaches {target:.3f} with the same networks, data and "
                       "budget)")
    except CheckFailed as failure:
        raise CheckFailed(f"{failure}: {advice}") from None


@pix2pix_learns_shapes.verdict
def _(student, reference):
    judge_training(student, reference, "Pix2Pix", ("g_loss", "adversarial", "l1", "d_loss"),
                   PIX2PIX_MARGIN, PIX2PIX_ADVICE)


@check(points=3, uses=("cyclegan",), timeout=90, task="your CycleGAN, trained on unpaired images",
       hint=TRAINING_HINT)
def cyclegan_learns_shapes(lab, rng):
    """CycleGAN (cycle_weight 10, identity_weight 5, pool_size 50) on the checks'
    one-convolution translators and critics, 40 steps of 8 unpaired silhouettes and
    paintings (Adam 5e-3, β1 = 0.5): the test L1 between G's translations of 256 held-out
    silhouettes and their paintings falls to 75 % of the silhouettes' own L1 and ends within
    0.04 of the reference's; fit logs the five losses."""
    from dlkit.data import arrays_dataset, make_translation_pairs, make_unpaired_translation
    run = CYCLEGAN_RUN
    seed = int(rng.integers(1 << 30))
    train, test = (make_unpaired_translation(1024, seed=seed),
                   make_translation_pairs(256, seed=seed + 1))
    networks = [one_layer(SHAPE, name="check_G"), one_layer(SHAPE, name="check_F"),
                critic(SHAPE, width=6, name="check_D_X"), critic(SHAPE, width=6, name="check_D_Y")]
    model = lab.cyclegan.CycleGAN(*networks, pool_size=run["pool_size"], seed=seed % 1000)
    model.compile(g_optimizer=adam(run["learning_rate"]), d_optimizer=adam(run["learning_rate"]))
    before = test_l1(networks[0], test, "silhouettes")
    dataset = arrays_dataset((train["silhouettes"], train["paintings"]), batch_size=run["batch"],
                             seed=seed, repeat=True)
    logged = fit(model, dataset, run["steps"], "CycleGAN training (fit)")
    return {"before": before, "after": test_l1(networks[0], test, "silhouettes"),
            "logged": logged,
            "silhouettes": float(np.mean(np.abs(test["silhouettes"] - test["paintings"])))}


@cyclegan_learns_shapes.verdict
def _(student, reference):
    judge_training(student, reference, "CycleGAN",
                   ("g_loss", "adversarial", "cycle", "identity", "d_loss"), CYCLEGAN_MARGIN,
                   CYCLEGAN_ADVICE, start="silhouettes",
                   started="for the silhouettes themselves, G copying its input")
