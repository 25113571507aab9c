"""GPU checks of lab04_regularization (autograder/gpu.py): the student's regularisers and
adversarial training at the scale of real data, judged against the reference trained the
same way.

- a CNN on 10 000 CIFAR-10 images (small enough to overfit) with the student's RandomShift
  and InvertedDropout, trained by their AdamW: test accuracy;
- the student's AdversarialTraining of an MLP on the whole of MNIST: clean accuracy and
  accuracy under the student's own FGSM and PGD (the reference measured with its own, as in
  the public check: this file ships to students and holds no attack).
"""
from autograder.checks.lab04_regularization.probes_robustness import (
    lab_attacks,
    train_step_returns_logs,
)
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# CNN: 32-32 | 64-64 | 128 3x3 convolutions, about 30 M multiply-adds per image forward,
# 0.18 GFLOP per training example. 30 epochs of 10 000 images in batches of 128: 2 340
# steps, about 55 TFLOP, ~10 s at 10 % of a T4; the compile and the per-step overhead cost
# as much again.
CNN_IMAGES, CNN_EPOCHS, CNN_BATCH = 10_000, 30, 128
ADAMW = {"learning_rate": 1e-3, "decay": 0.05}
SHIFT, DROPOUT = 2, 0.4
CNN_MARGIN = 0.03
CNN_FLOOR = 0.55    # regularised, such a CNN reaches about 0.65 on 10 000 images

# Adversarial training: a 784-256-256-10 MLP, 0.27 M multiply-adds forward; each step runs
# 3 PGD steps and one training step, ~5 MFLOP per example. 4 epochs of 60 000 images in
# batches of 128: 1 875 steps, about 1.2 TFLOP: the compile and the attacks' traces dominate.
ADV = {"epsilon": 0.1, "step_size": 0.04, "steps": 3}
ADV_EPOCHS, ADV_BATCH = 4, 128
ROBUST_MARGIN = 0.05   # 10 000 test digits: a correct student lands within a few points
CLEAN_MARGIN = 0.02
CLEAN_FLOOR, PGD_FLOOR = 0.95, 0.5


def regularised_cnn(lab, widths, convs):
    import keras
    layers = [keras.Input((32, 32, 3)), lab.augmentation.RandomShift(SHIFT, seed=1)]
    for level, width in enumerate(widths):
        layers += [keras.layers.Conv2D(width, 3, padding="same", activation="relu")
                   for _ in range(convs if level < len(widths) - 1 else 1)]
        layers.append(keras.layers.MaxPooling2D())
    return keras.Sequential([
        *layers, keras.layers.Flatten(), lab.noise_layers.InvertedDropout(DROPOUT, seed=2),
        keras.layers.Dense(256, activation="relu"),
        lab.noise_layers.InvertedDropout(DROPOUT, seed=3), keras.layers.Dense(10)])


@gpu_check(points=3, minutes=1.0, datasets=("cifar10",),
           uses=("augmentation", "noise_layers", "weight_decay"),
           task="`RandomShift`, `InvertedDropout`, `AdamW` (together)",
           hint="a CNN with your RandomShift at its input and your InvertedDropout before and "
                "after its dense layer, trained on 10 000 CIFAR-10 images by your AdamW: check "
                "that the layers act only in training and keep the input's dtype (mixed "
                "precision), and that the decay is decoupled")
def regularised_cnn_on_cifar10(lab, rng):
    """A CNN with your `RandomShift(2)` and `InvertedDropout(0.4)`, trained for 30 epochs of
    10 000 CIFAR-10 images by your `AdamW(1e-3, decay=0.05)` (mixed precision, XLA): its
    test accuracy comes within 3 points of the reference's, above 55 %."""
    import keras
    x, y = lab.gpu.images("cifar10", "train", CNN_IMAGES)
    x_test, y_test = lab.gpu.images("cifar10", "test", 10_000)
    # The smoke test runs on a CPU: a narrower, shallower net keeps it in seconds.
    model = (regularised_cnn(lab, (8, 16), 1) if lab.gpu.smoke
             else regularised_cnn(lab, (32, 64, 128), 2))
    lab.gpu.compile(model, lab.weight_decay.AdamW(**ADAMW),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with train_step_returns_logs():
        lab.gpu.fit(model, x, y, epochs=CNN_EPOCHS, batch=CNN_BATCH)
    return {"accuracy": lab.gpu.accuracy(model, x_test, y_test), "smoke": lab.gpu.smoke}


@regularised_cnn_on_cifar10.verdict
def _(student, reference):
    expect_at_least(student["accuracy"], reference["accuracy"] - CNN_MARGIN,
                    f"test accuracy on CIFAR-10 after training on {CNN_IMAGES} images (the "
                    f"reference reaches {reference['accuracy']:.3f} with the same network and "
                    "training; look at RandomShift and InvertedDropout in training and at "
                    "inference, and at AdamW's decay)")
    if not student["smoke"]:
        expect_at_least(student["accuracy"], CNN_FLOOR, "test accuracy on CIFAR-10")


@gpu_check(points=3, minutes=0.75, datasets=("mnist",), uses="adversarial",
           task="`AdversarialTraining.train_step`, `fgsm`, `pgd`",
           hint="AdversarialTraining of an MLP on MNIST, measured with your own fgsm and pgd: "
                "train_step must train on self.attack(x, y) in training mode, scale the loss "
                "for mixed precision and return the logs")
def adversarial_training_on_mnist(lab, rng):
    """Your `AdversarialTraining` (PGD, epsilon 0.1, 3 steps of 0.04) of a 784-256-256-10 MLP
    for 4 epochs of MNIST (mixed precision, XLA), attacked at epsilon 0.1 with your own
    `fgsm` and `pgd`: clean accuracy within 2 points and FGSM and PGD accuracy within 5
    points of the reference's, above 95 % clean and 50 % under PGD."""
    import keras
    import numpy as np
    x, y = lab.gpu.images("mnist", "train", 60_000)
    x_test, y_test = lab.gpu.images("mnist", "test", 10_000)
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    classifier = lab.adversarial.make_mlp(784, (256, 256))
    model = lab.adversarial.AdversarialTraining(classifier, **ADV)
    lab.gpu.compile(model, keras.optimizers.Adam(1e-3))
    with train_step_returns_logs():
        lab.gpu.fit(model, x, y, epochs=ADV_EPOCHS, batch=ADV_BATCH)
    result = {"clean": lab.gpu.accuracy(classifier, x_test, y_test), "smoke": lab.gpu.smoke}
    for name, attack in lab_attacks(lab).items():
        x_adv = np.asarray(attack(classifier, x_test, y_test, ADV["epsilon"]), "float32")
        result[name] = lab.gpu.accuracy(classifier, x_adv.reshape(x_test.shape), y_test)
    return result


@adversarial_training_on_mnist.verdict
def _(student, reference):
    summary = (f"clean / FGSM / PGD test accuracy at epsilon {ADV['epsilon']}: yours "
               f"{student['clean']:.1%} / {student['fgsm']:.1%} / {student['pgd']:.1%}, the "
               f"reference's {reference['clean']:.1%} / {reference['fgsm']:.1%} / "
               f"{reference['pgd']:.1%}, each measured with its own attacks")
    for attack in ("fgsm", "pgd"):
        expect_at_least(student[attack], reference[attack] - ROBUST_MARGIN,
                        f"the {attack.upper()} accuracy after adversarial training on MNIST "
                        f"({summary}; does train_step train on self.attack(x, y)?)")
    expect_at_least(student["clean"], reference["clean"] - CLEAN_MARGIN,
                    f"the clean accuracy after adversarial training on MNIST ({summary})")
    if not student["smoke"]:
        expect_at_least(student["clean"], CLEAN_FLOOR, f"the clean accuracy ({summary})")
        expect_at_least(student["pgd"], PGD_FLOOR, f"the PGD accuracy ({summary})")
