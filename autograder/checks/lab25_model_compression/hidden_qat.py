"""Hidden checks of lab25_model_compression, quantisation-aware training: fresh shapes, bits,
ranges and momentum."""
from autograder.api import check
from autograder.checks.lab25_model_compression.public_qat import (
    judge_per_channel,
    judge_qat_dense,
    judge_range,
    per_channel_probe,
    qat_dense_probe,
    range_probe,
)


@check(points=1, reference=False, hint="the fake quantisers for other shapes, bits and ranges")
def fake_quant_other_settings(lab, rng):
    return {"channel": per_channel_probe(lab, rng, (5, 9), 6),
            "range": range_probe(lab, rng, [(-2.5, -0.3), (-0.7, 0.9)], [5, 8])}


@fake_quant_other_settings.verdict
def _(student, _reference):
    judge_per_channel(student["channel"], "fake_quant_per_channel(kernel (5, 9), 6)")
    judge_range(student["range"])


@check(points=1, reference=False, hint="QATDense for other sizes, momentum and bits")
def qat_dense_other_settings(lab, rng):
    return qat_dense_probe(lab, rng, 9, 3, 4, 0.6, 5)


@qat_dense_other_settings.verdict
def _(student, _reference):
    judge_qat_dense(student, "QATDense(3, tanh, momentum 0.6, 5 bits)")
