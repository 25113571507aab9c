"""Hidden checks of lab25_model_compression: fresh shapes, ranges and ranks; the Distiller
and the pruning callback with the student's own distillation_loss and magnitude_mask."""
from autograder.api import check
from autograder.checks.lab25_model_compression.probes import (
    distiller_steps,
    judge_distiller_steps,
    judge_pruning,
    pruning_probe,
)
from autograder.checks.lab25_model_compression.public import (
    activations_probe,
    distillation_loss_probe,
    fake_quant_probe,
    judge_activations,
    judge_distillation_loss,
    judge_fake_quant,
    judge_low_rank,
    judge_quantize,
    judge_squeeze_excite,
    low_rank_probe,
    quantize_probe,
    squeeze_excite_probe,
)
from autograder.checks.lab25_model_compression.public_train import judge_masks, mask_probe


@check(points=1, reference=False, hint="the blocks for any shape, beta and ratio")
def blocks_other_shapes(lab, rng):
    out = activations_probe(lab, rng, (3, 4, 2), [float(rng.uniform(0.2, 4.0))])
    se = squeeze_excite_probe(lab, rng, (2, 3, 3, 8), 4)
    return {**out, **{f"se_{key}": value for key, value in se.items()}}


@blocks_other_shapes.verdict
def _(student, _reference):
    judge_activations(student)
    judge_squeeze_excite({key[3:]: value for key, value in student.items()
                          if key.startswith("se_")}, "SqueezeExcite(4)(x)")


@check(points=1, reference=False, hint="the loss for any batch, classes and temperature")
def distillation_loss_other_sizes(lab, rng):
    return distillation_loss_probe(lab, rng, int(rng.integers(2, 9)), int(rng.integers(3, 12)),
                                   [float(rng.uniform(1.5, 10.0))])


@distillation_loss_other_sizes.verdict
def _(student, _reference):
    judge_distillation_loss(student, "distillation_loss on fresh sizes")


@check(points=1, reference=False, hint="quantisers for any shape and range")
def quantisation_other_shapes(lab, rng):
    out = quantize_probe(lab, rng, int(rng.integers(3, 12)), int(rng.integers(2, 9)))
    fq = fake_quant_probe(lab, rng, [(float(-rng.uniform(0.1, 3)), float(rng.uniform(0.5, 3)))],
                          [int(rng.integers(2, 9))])
    return {**out, **{f"fq_{key}": value for key, value in fq.items()}}


@quantisation_other_shapes.verdict
def _(student, _reference):
    judge_quantize(student, "quantize_per_channel on a fresh shape")
    judge_fake_quant({key[3:]: value for key, value in student.items()
                      if key.startswith("fq_")})


@check(points=1, reference=False, hint="masks and low rank for any shape")
def masks_and_low_rank_other_shapes(lab, rng):
    masks = mask_probe(lab, rng, [(int(rng.integers(3, 9)), int(rng.integers(3, 9)))],
                       [float(rng.uniform(0.1, 0.9))])
    rank = int(rng.integers(1, 4))
    low = low_rank_probe(lab, rng, int(rng.integers(5, 9)), int(rng.integers(4, 7)), rank)
    return {**masks, **{f"lr_{key}": value for key, value in low.items()}, "rank": rank}


@masks_and_low_rank_other_shapes.verdict
def _(student, _reference):
    judge_masks(student, "magnitude_mask")
    judge_low_rank({key[3:]: value for key, value in student.items() if key.startswith("lr_")},
                   f"low_rank_factors(W, {student['rank']})", student["rank"])


@check(points=2, hint="Distiller.train_step with your own distillation_loss", eager=True)
def distiller_own_loss(lab, rng):
    return distiller_steps(lab, rng, temperature=5.0, alpha=0.6, stand_in=False)


@distiller_own_loss.verdict
def _(student, reference):
    judge_distiller_steps(student, reference, "Distiller.train_step with your distillation_loss")


@check(points=1, hint="MagnitudePruning with your own magnitude_mask")
def pruning_own_mask(lab, rng):
    return pruning_probe(lab, rng, schedule=[0.2, 0.2, 0.5, 0.7], steps=4, stand_in=False,
                         units=(6, 3))


@pruning_own_mask.verdict
def _(student, reference):
    judge_pruning(student, reference, "MagnitudePruning with your magnitude_mask")
