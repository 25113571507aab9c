"""Hidden checks of lab14_autoregressive for NADE and the gated PixelCNN: fresh sizes, a
kernel of 5 on a non-square image, against the reference run live."""
import numpy as np

from autograder.api import check
from autograder.checks.lab14_autoregressive.probes import (
    assign_by_shape,
    dependence,
    open_every_unit,
)
from autograder.checks.lab14_autoregressive.public_y_nade import NADE, random_nade_weights
from autograder.checks.lab14_autoregressive.public_z_gated import (
    GATED,
    first_mask_centre,
    judge_gated_field,
)
from autograder.verdicts import expect_close, expect_true


@check(points=1, uses=NADE, task="`nade.nade_logits`",
       hint="a_d = c + the exclusive running sum of x_j W[:, j]; "
            "logit_d = b[d] + V[d] @ sigmoid(a_d)")
def hidden_nade_logits(lab, rng):
    """Fresh sizes (D = 13, H = 9), larger weights, against the reference."""
    x = (rng.random((5, 13)) < 0.5).astype("float32")
    return {"logits": lab.nade.nade_logits(x, *random_nade_weights(rng, 13, 9, scale=2.0))}


@hidden_nade_logits.verdict
def _(student, reference):
    expect_close(student["logits"], reference["logits"], "nade_logits for D = 13, H = 9",
                 rtol=1e-4, atol=1e-4)


@check(points=2, uses=GATED, reference=False, task="`gated_pixelcnn.GatedPixelCNN`",
       hint="every pixel of the rows above within reach, the full width, and the left of the "
            "row: the masks and the down-shift must follow kernel_size")
def hidden_gated_receptive_field(lab, rng):
    """Kernel 5, two layers, on 7x9 images: exactly the expected receptive field."""
    model = lab.gated_pixelcnn.GatedPixelCNN((7, 9, 1), filters=4, num_layers=2, kernel_size=5)
    assign_by_shape(model, rng, scale=0.4)
    open_every_unit(model, bias=1.0)
    kernel = model.hidden_1x1.kernel
    kernel.assign(np.abs(np.asarray(kernel)))
    x = rng.normal(size=(6, 7, 9, 1)).astype("float32")
    return {"shape": list(np.shape(model(x))), "gated": dependence(model, x, 63, 63, rng),
            "first_centre": first_mask_centre(model)}


@hidden_gated_receptive_field.verdict
def _(student, _reference):
    expect_true(student["shape"] == [6, 7, 9, 1], "GatedPixelCNN((7, 9, 1)) output shape "
                f"{tuple(student['shape'])}, expected (6, 7, 9, 1)")
    judge_gated_field(student["gated"], None, 7, 9, 4, "GatedPixelCNN(kernel_size=5, "
                      "num_layers=2) on 7x9 images", student.get("first_centre"))


@check(points=1, uses=GATED, task="`gated_pixelcnn.GatedPixelCNN.call` (the label)",
       hint="the label through every GatedLayer's embeddings, nothing else")
def hidden_conditional_logits(lab, rng):
    """Three layers, four classes, 5x7 images: the logits against the reference's."""
    model = lab.gated_pixelcnn.GatedPixelCNN((5, 7, 1), filters=3, num_layers=3, num_classes=4)
    assign_by_shape(model, rng, scale=0.5)
    x = (rng.random((4, 5, 7, 1)) < 0.5).astype("float32")
    return {"logits": model({"image": x, "label": np.array([3, 1, 0, 2])})}


@hidden_conditional_logits.verdict
def _(student, reference):
    expect_close(student["logits"], reference["logits"], "GatedPixelCNN(num_classes=4) logits")
