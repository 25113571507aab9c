"""Public checks of lab20_transfer_learning, part 2: DANN.

The train_step checks run the student's DANN with the checks' stand-ins for
gradient_reversal and mmd2 (probes.py: half-strength reversal, linear-kernel MMD), two SGD
steps through `fit` from the same random weights on the same batches as the reference: a
correct train_step gives the reference's weights and logs up to float rounding. The training
check runs the student's whole DANN (reversal included) on the textured digits and is
relative to the reference at the same seed and budget.
"""
import numpy as np

from autograder.api import check
from autograder.checks.lab20_transfer_learning.probes import (
    DANN_GAIN,
    DANN_MARGIN,
    DANN_TRAIN,
    dann_steps,
    judge_dann_steps,
)
from autograder.verdicts import expect_at_least


@check(points=3, task="`DANN.train_step`",
       hint="backbone once on concat([source, target]) with training=True; class loss on the "
            "source rows; domain loss of self.domain_logits(features) against 0 (source) and "
            "1 (target); scale_loss, gradients of every trainable variable, optimizer.apply")
def dann_train_step(lab, rng):
    """Two SGD steps of `fit` (lambda 0.8, no MMD) from random weights, on the checks' own
    gradient reversal: the losses logged by the first step and every weight after both
    (batch norm statistics too) against the reference's."""
    return dann_steps(lab, rng, lambda_=0.8, mmd_weight=0.0)


@dann_train_step.verdict
def _(student, reference):
    judge_dann_steps(student, reference, "DANN.train_step (lambda 0.8, mmd_weight 0)")


@check(points=1, task="`DANN.train_step` (MMD term)",
       hint="when mmd_weight > 0: loss += mmd_weight * mmd2(source_features, target_features, "
            "self.bandwidths); the mmd tracker logs mmd2's value (0.0 when it is off)")
def dann_train_step_adds_mmd(lab, rng):
    """Two SGD steps with mmd_weight 0.5 (lambda 0.3), the checks' own MMD (a linear kernel)
    and reversal: logs and weights against the reference's."""
    return dann_steps(lab, rng, lambda_=0.3, mmd_weight=0.5)


@dann_train_step_adds_mmd.verdict
def _(student, reference):
    judge_dann_steps(student, reference, "DANN.train_step (lambda 0.3, mmd_weight 0.5)")


def dann_training(lab, rng, config):
    """Train source-only (lambda 0) and DANN (lambda ramped to lambda_max) with the student's
    DANN at each seed; their accuracies on the labelled target images (train and test),
    averaged over the seeds.

    One model trains every run: before each, it takes the first weights of a DANN built at
    that seed and its optimizer's state as new, so fit traces train_step once, not once a
    run (a trace costs about as much as a run's training)."""
    import keras
    import tensorflow as tf

    from dlkit.data.domains import make_domains, paired_domains
    domains = make_domains(config["shift"], seed=0)
    images = np.concatenate([domains["target_x"], domains["test_x"]])
    labels = np.concatenate([domains["target_y"], domains["test_y"]])
    steps = config["steps"]

    class Ramp(keras.callbacks.Callback):
        """DANN's schedule: lambda = lambda_max (2 / (1 + exp(-10 p)) - 1), set before each
        execution of steps_per_execution steps (batch: the index of its first step)."""
        def __init__(self, lambda_max):
            super().__init__()
            self.lambda_max = lambda_max

        def on_train_batch_begin(self, batch, logs=None):
            self.model.reversal.lambda_.assign(
                self.lambda_max * (2.0 / (1.0 + np.exp(-10.0 * batch / steps)) - 1.0))

    class Anneal(keras.optimizers.schedules.LearningRateSchedule):
        """DANN's learning-rate annealing: rate / (1 + 10 p)^0.75."""
        def __call__(self, step):
            progress = keras.ops.cast(step, "float32") / steps
            return config["learning_rate"] / (1.0 + 10.0 * progress) ** 0.75

    def seeded_dann(seed):
        keras.utils.set_random_seed(seed)
        return lab.transfer.DANN(10, filters=config["filters"], hidden=config["hidden"],
                                 lambda_=0.0)

    model = seeded_dann(config["seeds"][0])
    first_weights = [model.get_weights()] + [seeded_dann(seed).get_weights()
                                             for seed in config["seeds"][1:]]
    model.compile(optimizer=keras.optimizers.Adam(Anneal()),
                  steps_per_execution=config["steps_per_execution"])
    model.optimizer.build(model.trainable_variables)
    new_optimizer = [np.asarray(v) for v in model.optimizer.variables]
    runs = {"source_only": [], "dann": []}
    for seed, weights in zip(config["seeds"], first_weights):
        x, y = paired_domains(domains["source_x"], domains["source_y"],
                              domains["target_x"], seed=seed)
        for name, lambda_max in (("source_only", 0.0), ("dann", config["lambda_max"])):
            keras.utils.set_random_seed(seed)
            model.set_weights(weights)
            for variable, value in zip(model.optimizer.variables, new_optimizer):
                variable.assign(value)
            data = (tf.data.Dataset.from_tensor_slices((x, y))
                    .shuffle(len(x), seed=seed).repeat().batch(config["batch_size"]))
            model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0,
                      callbacks=[Ramp(lambda_max)])
            logits = np.asarray(model(images, training=False))
            runs[name].append(float((logits.argmax(axis=-1) == labels).mean()))
    return {"source_only": float(np.mean(runs["source_only"])),
            "dann": float(np.mean(runs["dann"])),
            "source_only_runs": np.array(runs["source_only"]), "dann_runs": np.array(runs["dann"])}


@check(points=3, timeout=90, task="`DANN.train_step`, `gradient_reversal`",
       hint="the whole DANN trained: train_step, the reversal and the domain loss together")
def dann_beats_source_only(lab, rng):
    """Source-only (lambda 0) and DANN (lambda ramped to 0.5) on the textured target domain,
    at seeds 0 and 1, the budget below: DANN's mean target accuracy beats source-only's by
    half a point, and both come within 12 points of the reference's."""
    return dann_training(lab, rng, DANN_TRAIN)


@dann_beats_source_only.verdict
def _(student, reference):
    seeds = DANN_TRAIN["seeds"]
    # The gain first: a domain loss that skips the reversal fails it exactly (lambda then
    # changes nothing), and its message names the reversal.
    expect_at_least(student["dann"], student["source_only"] + DANN_GAIN,
                    f"DANN's target accuracy, mean over seeds {seeds} (your source-only run "
                    f"reaches {student['source_only']:.3f}; DANN must beat it by "
                    f"{100 * DANN_GAIN:.1f} point: check that the reversal's gradient is "
                    "-lambda_ * upstream and that the domain loss reaches the backbone through "
                    "self.domain_logits)")
    expect_at_least(student["source_only"], reference["source_only"] - DANN_MARGIN,
                    f"the source-only DANN (lambda 0)'s target accuracy, mean over seeds {seeds} "
                    f"(the reference reaches {reference['source_only']:.3f} at the same seeds "
                    "and budget: check the class loss on the source rows)")
    expect_at_least(student["dann"], reference["dann"] - DANN_MARGIN,
                    f"DANN's target accuracy, mean over seeds {seeds} (the reference reaches "
                    f"{reference['dann']:.3f} at the same seeds and budget)")
