"""GPU checks of lab01_mlp_backprop (autograder/gpu.py): the student's Keras MLP trained on
the whole of MNIST, and judged by its test accuracy against the reference's."""
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# Three epochs of the 60 000 training images in batches of 128: 1 400 Adam steps of a
# 784-512-256-10 MLP, about 0.3 TFLOP, so the XLA compile and reading the data dominate.
EPOCHS, BATCH = 3, 128
MARGIN = 0.01     # test accuracy within a point of the reference's
FLOOR = 0.95      # and a real MLP's on MNIST (the reference reaches about 0.97)


@gpu_check(points=2, minutes=0.5, datasets=("mnist",), uses="mlp",
           task="`Linear`, `build_keras_mlp`",
           hint="the MLP of build_keras_mlp, trained on MNIST: check Linear's weights and "
                "the compiled loss (logits, not probabilities)")
def keras_mlp_on_mnist(lab, rng):
    """`build_keras_mlp(784, (512, 256), 10)` trained for three epochs on MNIST (mixed
    precision, XLA): its test accuracy comes within 1 point of the reference's, above 95 %."""
    import keras
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("mnist", "test", 10_000)
    model = lab.mlp.build_keras_mlp(784, (512, 256), 10)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    lab.gpu.fit(model, x.reshape(len(x), -1), y, epochs=EPOCHS, batch=BATCH)
    return {"accuracy": lab.gpu.accuracy(model, x_test.reshape(len(x_test), -1), y_test),
            "smoke": lab.gpu.smoke}


@keras_mlp_on_mnist.verdict
def _(student, reference):
    expect_at_least(student["accuracy"], reference["accuracy"] - MARGIN,
                    f"test accuracy on MNIST (the reference reaches {reference['accuracy']:.3f} "
                    "with the same training)")
    if not student["smoke"]:
        expect_at_least(student["accuracy"], FLOOR, "test accuracy on MNIST")
