"""Hidden checks of lab20_transfer_learning: fresh shapes, sizes, bandwidths and class
counts; DANN.train_step with the student's own gradient reversal and MMD against the
solution."""
from autograder.api import check
from autograder.checks.lab20_transfer_learning.probes import (
    dann_steps,
    judge_dann_steps,
    transfer_probe,
)
from autograder.checks.lab20_transfer_learning.public import (
    judge_kernel,
    judge_mmd,
    judge_reversal,
    judge_training_mode_logits,
    kernel_mmd_probe,
    reversal_probe,
)
from autograder.verdicts import expect_true


@check(points=1, reference=False, hint="the reversal must work for any shape and lambda_")
def gradient_reversal_other_shapes(lab, rng):
    shape = tuple(int(s) for s in rng.integers(2, 5, size=3))
    return reversal_probe(lab, rng, shape, [float(rng.uniform(0.1, 0.9)),
                                            float(rng.uniform(1.5, 4.0))])


@gradient_reversal_other_shapes.verdict
def _(student, _reference):
    judge_reversal(student)


@check(points=1, reference=False, hint="kernel and unbiased MMD for any sizes and bandwidths")
def kernel_and_mmd_other_sizes(lab, rng):
    n, m, dim = (int(v) for v in rng.integers(3, 9, size=3))
    bandwidths = tuple(float(b) for b in rng.uniform(0.5, 4.0, size=3))
    return kernel_mmd_probe(lab, rng, n, m, dim, bandwidths)


@kernel_and_mmd_other_sizes.verdict
def _(student, _reference):
    judge_kernel(student, "gaussian_kernel(x, y, bandwidths) on fresh sizes")
    judge_mmd(student, "mmd2(x, y, bandwidths) on fresh sizes")


@check(points=1, reference=False, hint="the transfer model for any backbone and class count")
def fine_tuning_other_backbone(lab, rng):
    return transfer_probe(lab, rng, fine_tune=True, filters=(3, 5, 4),
                          num_classes=int(rng.integers(4, 7)), n=16)


@fine_tuning_other_backbone.verdict
def _(student, _reference):
    what = "build_transfer_model(backbone with filters (3, 5, 4), k, fine_tune=True)"
    expect_true(student["kernel_moved"] > 0 and student["moving_moved"] == 0.0,
                f"{what}: the kernels must train and the moving statistics stay")
    judge_training_mode_logits(student, what)


@check(points=2, hint="DANN.train_step with your own reversal and MMD")
def dann_train_step_own_parts(lab, rng):
    return dann_steps(lab, rng, lambda_=1.3, mmd_weight=0.7, stand_ins=False)


@dann_train_step_own_parts.verdict
def _(student, reference):
    judge_dann_steps(student, reference, "DANN.train_step with your reversal and MMD "
                     "(lambda 1.3, mmd_weight 0.7)")
