"""GPU checks of lab23_nngp_ntk (autograder/gpu.py): the student's NNGP and NTK kernels and
GP posterior classify MNIST as infinitely wide networks would (Lee et al., 2018), at a
training-set size the CPU checks cannot afford; judged by test accuracy."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# The kernels are numpy float64 (the lab's code): on 4 000 training and 1 000 test images,
# the arc-cosine recursion runs on 21 M kernel entries, and gp_posterior factors the
# 4 000 x 4 000 matrix once per class and kernel: 20 Cholesky factors and solves, ~2 TFLOP
# of float64 LAPACK on the runner's CPU, about a minute. Nothing trains; no XLA.
TRAIN, TEST, DEPTH = 4_000, 1_000, 3
NOISE = 0.01      # observation noise, as a fraction of the mean prior variance K(x, x)
MARGIN = 0.01     # test accuracy within a point of the reference's (the same closed form)
FLOOR = 0.90      # and a kernel that sees digits (the reference reaches about 0.95)


def _accuracy(gp_posterior, k_train, k_cross, k_test_diag, y_train, y_test):
    """Kernel regression on centred one-hot targets, one GP per class; the argmax of the
    posterior means classifies."""
    noise = NOISE * float(np.mean(np.diag(k_train)))
    targets = np.eye(10)[y_train] - 0.1
    means = np.stack([gp_posterior(k_train, k_cross, k_test_diag, targets[:, c], noise)[0]
                      for c in range(10)], axis=1)
    return float(np.mean(np.argmax(means, axis=1) == y_test))


@gpu_check(points=3, minutes=1.5, datasets=("mnist",), uses="kernels",
           task="`relu_expectations`, `ntk_kernel`, `gp_posterior`",
           hint="NNGP and NTK regression on MNIST: check the arc-cosine expectations (theta "
                "from the normalised covariance), the NTK recursion's E[relu' relu'] term, and "
                "the Cholesky solve of (K + noise I)")
def kernels_on_mnist(lab, rng):
    """`ntk_kernel` of a depth-3 ReLU network (weight_var 2, bias_var 0.1) on 4 000 MNIST
    training images (centred), and `gp_posterior` with each kernel, one GP per class on
    centred one-hot targets: the NNGP's and the NTK's test accuracy on 1 000 test images each
    come within 1 point of the reference's, above 90 %."""
    x, y = lab.gpu.images("mnist", "train", TRAIN)
    x_test, y_test = lab.gpu.images("mnist", "test", TEST)
    mean = x.reshape(len(x), -1).mean(axis=0)
    x, x_test = x.reshape(len(x), -1) - mean, x_test.reshape(len(x_test), -1) - mean
    nngp_train, ntk_train = lab.kernels.ntk_kernel(x, x, DEPTH)
    nngp_cross, ntk_cross = lab.kernels.ntk_kernel(x_test, x, DEPTH)
    nngp_diag = np.diag(lab.kernels.nngp_kernel(x_test, x_test, DEPTH))
    results = {}
    for name, k_train, k_cross in (("nngp", nngp_train, nngp_cross),
                                   ("ntk", ntk_train, ntk_cross)):
        results[name] = _accuracy(lab.kernels.gp_posterior, np.asarray(k_train),
                                  np.asarray(k_cross), nngp_diag, y, y_test)
    return {**results, "smoke": lab.gpu.smoke}


@kernels_on_mnist.verdict
def _(student, reference):
    for name, label in (("nngp", "NNGP"), ("ntk", "NTK")):
        expect_at_least(student[name], reference[name] - MARGIN,
                        f"the {label} regression's test accuracy on MNIST (the reference "
                        f"reaches {reference[name]:.3f} with the same kernel and data)")
        if not student["smoke"]:
            expect_at_least(student[name], FLOOR, f"the {label} regression's test accuracy "
                            "on MNIST")
