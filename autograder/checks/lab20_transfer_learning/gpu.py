"""GPU checks of lab20_transfer_learning (autograder/gpu.py): the student's DANN (its
train_step and gradient reversal) adapting from MNIST to textured MNIST, both brought to the
lab's 8x8 format, with a wider backbone and a hundred times the data of the CPU check;
judged by the accuracy on the 10 000 textured test digits against the reference's, for
source-only training (lambda 0) and for DANN."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# Two runs (source-only, DANN) of 3 000 steps of 256 pairs: the backbone (64 and 128
# filters on 8x8 images) costs ~2.5 MFLOP per image forward, so ~4 GFLOP a step with both
# domains and the backward pass, ~12 TFLOP a run: the steps' overhead and the two XLA
# compiles dominate, about 1.5 minutes on a T4.
STEPS, BATCH, LEARNING_RATE, LAMBDA_MAX = 3_000, 256, 1e-3, 0.5
FILTERS, HIDDEN = (64, 128), 128
MARGIN = 0.03     # target accuracy within 3 points of the reference's, in both runs
SLACK = 0.01      # at full budget, DANN no worse than the student's own source-only run


def to_8x8(images):
    """28x28 MNIST digits as the lab's 8x8 ones: the central 24x24 pixels averaged over 3x3
    blocks, each image scaled to a maximum of 1 (like scikit-learn's digits)."""
    small = images[:, 2:26, 2:26].reshape(len(images), 8, 3, 8, 3, 1).mean(axis=(2, 4))
    return (small / np.maximum(small.max(axis=(1, 2, 3), keepdims=True), 1e-6)).astype("float32")


@gpu_check(points=3, minutes=1.5, datasets=("mnist",), uses="transfer",
           task="`DANN.train_step`, `gradient_reversal`",
           hint="DANN from MNIST to textured MNIST must reach the reference's accuracy on the "
                "textured test digits: check the reversal's gradient (-lambda_ * upstream, in "
                "the upstream's dtype under mixed precision) and the domain loss on all rows")
def dann_on_mnist(lab, rng):
    """Your DANN (backbone filters (64, 128), domain head 128) from 30 000 clean MNIST digits
    to 30 000 others under the texture shift, at 8x8, 3000 steps of 256 pairs, once
    source-only (lambda 0) and once with lambda ramped to 0.5 (mixed precision, XLA):
    accuracy on the 10 000 textured test digits within 3 points of the reference's in both
    runs, and DANN's not below source-only's."""
    import keras
    import tensorflow as tf

    from dlkit.data.domains import paired_domains, shift_images
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("mnist", "test", 10_000)
    x, x_test = to_8x8(x), to_8x8(x_test)
    order = np.random.default_rng(0).permutation(len(x))
    source, target = order[: len(x) // 2], order[len(x) // 2:]
    target_x = shift_images(x[target], "texture", seed=1)   # its labels are never read
    test_x = shift_images(x_test, "texture", seed=2)
    pairs, labels = paired_domains(x[source], y[source], target_x, seed=0)
    steps = lab.gpu.steps(STEPS)

    class Ramp(keras.callbacks.Callback):
        """DANN's schedule: lambda = lambda_max (2 / (1 + exp(-10 p)) - 1)."""
        def __init__(self, lambda_max):
            super().__init__()
            self.lambda_max, self.step = lambda_max, 0

        def on_train_batch_begin(self, batch, logs=None):
            progress = self.step / steps
            self.step += 1
            self.model.reversal.lambda_.assign(
                self.lambda_max * (2.0 / (1.0 + np.exp(-10.0 * progress)) - 1.0))

    # float16 convolutions are slow on a CPU: the smoke test shrinks the backbone 8 times.
    filters, hidden = ((8, 16), 16) if lab.gpu.smoke else (FILTERS, HIDDEN)
    out = {"smoke": lab.gpu.smoke}
    for name, lambda_max in (("source_only", 0.0), ("dann", LAMBDA_MAX)):
        # Seeded, not reset_keras: that would put back the float32 policy of the worker.
        keras.utils.set_random_seed(0)
        model = lab.transfer.DANN(10, filters=filters, hidden=hidden, lambda_=0.0)
        lab.gpu.compile(model, keras.optimizers.Adam(LEARNING_RATE))
        model.optimizer.build(model.trainable_variables)   # fit traces once
        data = (tf.data.Dataset.from_tensor_slices((pairs, labels)).shuffle(len(pairs), seed=0)
                .repeat().batch(min(BATCH, len(pairs)), drop_remainder=True).prefetch(4))
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0,
                  callbacks=[Ramp(lambda_max)])
        for key, images, truth in (("target", test_x, y_test), ("source", x_test, y_test)):
            logits = np.concatenate([np.asarray(model(images[i:i + 4096]), "float32")
                                     for i in range(0, len(images), 4096)])
            out[f"{name}_{key}"] = float((logits.argmax(axis=-1) == truth).mean())
    return out


@dann_on_mnist.verdict
def _(student, reference):
    for name, label in (("source_only", "source-only (lambda 0)"), ("dann", "DANN")):
        expect_at_least(student[f"{name}_target"], reference[f"{name}_target"] - MARGIN,
                        f"{label}'s accuracy on the textured MNIST test digits (the reference "
                        f"reaches {reference[name + '_target']:.3f} with the same training; "
                        f"yours {student[name + '_source']:.3f} on the clean ones)")
    if not student["smoke"]:
        expect_at_least(student["dann_target"], student["source_only_target"] - SLACK,
                        "DANN's accuracy on the textured MNIST test digits, against your "
                        f"source-only run's ({student['source_only_target']:.3f}): the reversal "
                        "must make the features domain-invariant, not worse")
