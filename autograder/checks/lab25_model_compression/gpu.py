"""GPU checks of lab25_model_compression (autograder/gpu.py): the student's `Distiller`
compresses a large MLP teacher into a small one on Fashion-MNIST, and their magnitude
pruning and int8 quantisation compress an MLP on MNIST; each judged by test accuracy
against the reference's."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_close

# Distillation: the teacher 784-1200-1200-10 (2.4 M weights, ~14 MFLOP per example for a
# training step) trained for five epochs of 60 000, then the 784-64-10 student distilled for
# five more (the teacher's forward pass, ~5 MFLOP per example): ~6 TFLOP over 4 700 steps of
# batches of 128, seconds at T4 speed; the compile and the step dispatch dominate.
EPOCHS, BATCH = 5, 128
TEACHER, STUDENT = (1200, 1200), (64,)
DISTILL_MARGIN = 0.01    # test accuracy within a point of the reference's
DISTILL_FLOOR = 0.84     # and a small MLP's on Fashion-MNIST (the teacher reaches ~0.88)

# Pruning: 784-300-100-10 (LeNet-300-100) for five epochs, 2 345 steps with the pruning
# callback's numpy mask after every one (~20 ms each on the hidden kernels): ~1 minute;
# the training itself is ~1.5 TFLOP.
SPARSITY = 0.9           # of each hidden kernel, reached at 80 % of the steps
PRUNE_MARGIN = 0.01
PRUNE_FLOOR = 0.96       # 90 % sparse and int8, LeNet-300-100 still classifies MNIST


def _fit(lab, model, x, y, epochs, **kwargs):
    steps = lab.gpu.steps(epochs * len(x) // BATCH)
    epochs = max(1, min(epochs, steps * BATCH // len(x)))
    model.fit(x, y, batch_size=BATCH, epochs=epochs, steps_per_epoch=max(1, steps // epochs),
              verbose=0, **kwargs)
    return steps


def _accuracy(model, x, y):
    logits = np.asarray(model.predict(x, batch_size=1_000, verbose=0), "float32")
    return float(np.mean(logits.argmax(axis=1) == y))


@gpu_check(points=3, minutes=1.5, datasets=("fashion_mnist",), uses="compression",
           task="`distillation_loss`, `Distiller.train_step`",
           hint="distillation on Fashion-MNIST: check the temperature (both softmaxes, and the "
                "T^2 factor), the KL's direction (teacher || student), that alpha weights the "
                "hard loss, and that only the student's weights train")
def distillation_on_fashion_mnist(lab, rng):
    """The lab's `make_mlp((1200, 1200), inputs=784)` teacher trained for five epochs on
    Fashion-MNIST, then `make_mlp((64,), inputs=784)` trained through the student's
    `Distiller(student, teacher, temperature=4, alpha=0.1)` for five more (mixed precision,
    XLA): the small MLP's test accuracy comes within 1 point of the reference's, above 84 %."""
    import keras
    comp = lab.compression
    x, y = lab.gpu.images("fashion_mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("fashion_mnist", "test", 10_000)
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    teacher = comp.make_mlp(TEACHER, inputs=784, name="teacher")
    lab.gpu.compile(teacher, keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    _fit(lab, teacher, x, y, EPOCHS)
    small = comp.make_mlp(STUDENT, inputs=784, name="student")
    distiller = comp.Distiller(small, teacher, temperature=4.0, alpha=0.1)
    lab.gpu.compile(distiller, keras.optimizers.Adam(1e-3))
    _fit(lab, distiller, x, y, EPOCHS)
    return {"accuracy": _accuracy(small, x_test, y_test),
            "teacher": _accuracy(teacher, x_test, y_test), "smoke": lab.gpu.smoke}


@distillation_on_fashion_mnist.verdict
def _(student, reference):
    expect_at_least(student["accuracy"], reference["accuracy"] - DISTILL_MARGIN,
                    "the distilled 784-64-10 MLP's test accuracy on Fashion-MNIST (the "
                    f"reference's reaches {reference['accuracy']:.3f}; the teacher "
                    f"{student['teacher']:.3f})")
    if not student["smoke"]:
        expect_at_least(student["accuracy"], DISTILL_FLOOR,
                        "the distilled MLP's test accuracy on Fashion-MNIST")


@gpu_check(points=3, minutes=2.0, datasets=("mnist",), uses="compression",
           task="`polynomial_sparsity`, `magnitude_mask`, `MagnitudePruning`, "
                "`quantize_per_channel`, `dequantize`",
           hint="pruning then int8 on MNIST: check that the mask keeps pruned weights pruned "
                "(mask the kernel with the old mask first), the schedule's cubic decay, and "
                "the per-output-channel scale max|W| / 127")
def pruned_int8_mlp_on_mnist(lab, rng):
    """The lab's `make_mlp((300, 100), inputs=784)` trained for five epochs on MNIST (mixed
    precision, XLA) under the student's `MagnitudePruning` of both hidden kernels with the
    `polynomial_sparsity` schedule from 0 to 90 % (from 20 % to 80 % of the steps), then every
    kernel quantised to int8 per channel and back: the hidden kernels' sparsity matches the
    reference's and the test accuracy comes within 1 point of it, above 96 %."""
    import keras
    comp = lab.compression
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("mnist", "test", 10_000)
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    model = comp.make_mlp((300, 100), inputs=784, name="lenet_300_100")
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    total = lab.gpu.steps(EPOCHS * len(x) // BATCH)
    begin, end = total // 5, max(total // 5 + 1, 4 * total // 5)
    pruning = comp.MagnitudePruning(
        [layer.kernel for layer in dense[:-1]],
        lambda t: comp.polynomial_sparsity(t, 0.0, SPARSITY, begin, end))
    _fit(lab, model, x, y, EPOCHS, callbacks=[pruning])
    sparsity = float(np.mean([np.mean(np.asarray(layer.kernel) == 0) for layer in dense[:-1]]))
    pruned = _accuracy(model, x_test, y_test)
    for layer in dense:
        layer.kernel.assign(comp.dequantize(*comp.quantize_per_channel(np.asarray(layer.kernel))))
    return {"sparsity": sparsity, "pruned": pruned, "int8": _accuracy(model, x_test, y_test),
            "smoke": lab.gpu.smoke}


@pruned_int8_mlp_on_mnist.verdict
def _(student, reference):
    expect_close(student["sparsity"], reference["sparsity"],
                 "the fraction of zeros in the pruned hidden kernels at the end of training",
                 rtol=0, atol=0.005)
    expect_at_least(student["int8"], reference["int8"] - PRUNE_MARGIN,
                    "the pruned, int8-quantised MLP's test accuracy on MNIST (the reference's "
                    f"reaches {reference['int8']:.3f}; yours {student['pruned']:.3f} before "
                    "quantising)")
    if not student["smoke"]:
        expect_at_least(student["int8"], PRUNE_FLOOR,
                        "the pruned, int8-quantised MLP's test accuracy on MNIST")
