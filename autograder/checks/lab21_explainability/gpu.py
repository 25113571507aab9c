"""GPU checks of lab21_explainability (autograder/gpu.py): the student's integrated gradients
explain the lab's CNN trained on the whole of MNIST, judged by a deletion test: how much
test accuracy falls when the pixels they rank highest are blanked."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# make_cnn on 28x28 MNIST is ~3 MFLOP a forward pass: three epochs of 60 000 images in
# batches of 128 (1 400 Adam steps) are ~1.6 TFLOP; integrated gradients on 2 000 test
# images (32 path points, a forward and a backward each) ~0.6 TFLOP more, run eagerly.
# Seconds of compute: the XLA compile and reading the data dominate.
EPOCHS, BATCH = 3, 128
EXPLAINED = 2_000    # test images explained
DELETED = 0.10       # the fraction of pixels blanked (to 0, IG's baseline) in each image
MARGIN = 0.05        # the accuracy drop within 5 points of the reference's
OVER_RANDOM = 0.15   # and well above the drop from blanking as many random pixels
IG_STEPS = 32        # the lab's default; 4 in the smoke test, where float16 convolutions
                     # on a CPU make each path point cost a quarter of a second


def _blank(x, scores, fraction):
    """x with each image's `fraction` highest-scoring pixels set to 0."""
    flat = scores.reshape(len(x), -1)
    k = int(round(fraction * flat.shape[1]))
    top = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    out = x.reshape(len(x), -1).copy()
    np.put_along_axis(out, top, 0.0, axis=1)
    return out.reshape(x.shape)


@gpu_check(points=3, minutes=1.0, datasets=("mnist",), uses="gradients",
           task="`input_gradients`, `integrated_gradients`",
           hint="integrated gradients of a CNN trained on MNIST: check the path points "
                "(midpoints from the baseline to x), that the gradient is of the target "
                "logit, and the final multiplication by (x - baseline)")
def integrated_gradients_on_mnist(lab, rng):
    """The lab's `make_cnn(10, 28, 1)` trained for three epochs on MNIST (mixed precision,
    XLA), then the student's `integrated_gradients` of each test image's true class: blanking
    the 10 % of pixels they rank highest lowers test accuracy as much as the reference's
    attributions do (within 5 points), and far more than blanking random pixels."""
    import keras
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("mnist", "test", EXPLAINED)
    model = lab.gradients.make_cnn(10, 28, 1)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    steps = lab.gpu.steps(EPOCHS * len(x) // BATCH)
    epochs = max(1, min(EPOCHS, steps * BATCH // len(x)))
    model.fit(x, y, batch_size=BATCH, epochs=epochs, steps_per_epoch=max(1, steps // epochs),
              verbose=0)

    def accuracy(images):
        logits = np.asarray(model.predict(images, batch_size=500, verbose=0), "float32")
        return float(np.mean(logits.argmax(axis=1) == y_test))

    attributions = np.concatenate([
        lab.gradients.integrated_gradients(model, x_test[i:i + 500], y_test[i:i + 500],
                                           steps=4 if lab.gpu.smoke else IG_STEPS)
        for i in range(0, len(x_test), 500)])
    base = accuracy(x_test)
    by_ig = accuracy(_blank(x_test, np.abs(attributions).sum(axis=-1), DELETED))
    at_random = accuracy(_blank(x_test, rng.uniform(size=x_test.shape[:3]), DELETED))
    return {"accuracy": base, "drop": base - by_ig, "random_drop": base - at_random,
            "smoke": lab.gpu.smoke}


@integrated_gradients_on_mnist.verdict
def _(student, reference):
    expect_at_least(student["drop"], reference["drop"] - MARGIN,
                    f"the test-accuracy drop from blanking the top {DELETED:.0%} of pixels by "
                    f"integrated gradients (the reference's attributions: {reference['drop']:.3f},"
                    f" the CNN's accuracy {student['accuracy']:.3f}); look at the path points "
                    "and the (x - baseline) factor")
    if not student["smoke"]:
        expect_at_least(student["drop"], student["random_drop"] + OVER_RANDOM,
                        "the accuracy drop from blanking the top pixels by integrated "
                        f"gradients, against {student['random_drop']:.3f} for random pixels")
