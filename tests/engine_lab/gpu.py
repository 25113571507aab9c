"""GPU checks of the fixture lab: what the gpu profile gives a probe, and the data path."""
from autograder.gpu import gpu_check
from autograder.verdicts import expect_true

DATA = "tiny_digits"   # the TFDS data set tests/test_gpu_profile.py writes


@gpu_check(points=1, minutes=0.1, hint="needs a GPU", reference=False)
def needs_gpu(lab, rng):
    import keras
    import numpy as np
    import tensorflow as tf

    from dlkit.backend import device_summary
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    lab.gpu.compile(model, keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=4, verbose=0)
    # Keras sets jit_compile back to False when it cannot use XLA (op determinism on).
    return {"device": device_summary()["device"], "xla": bool(model.jit_compile),
            "smoke": lab.gpu.smoke, "policy": keras.mixed_precision.dtype_policy().name,
            "real_gpu": bool(tf.config.list_physical_devices("GPU"))}


@needs_gpu.verdict
def _(student, reference):
    expect_true(student["device"].startswith("GPU"), f"ran on {student['device']}")
    # bfloat16 in the smoke test on a CPU, where float16 convolutions are emulated (gpu.py).
    policy = ("mixed_bfloat16" if student["smoke"] and not student["real_gpu"]
              else "mixed_float16")
    expect_true(student["policy"] == policy, f"ran under the {student['policy']} policy, "
                f"expected {policy}")
    expect_true(student["xla"] != student["smoke"], "XLA is on, except in the smoke test")


@gpu_check(points=1, minutes=0.1, datasets=(DATA,), hint="reads a TFDS data set",
           reference=False)
def reads_a_dataset(lab, rng):
    x, y = lab.gpu.images(DATA, "train", 1000)
    return {"shape": list(x.shape), "range": [float(x.min()), float(x.max())],
            "labels": y.tolist(), "smoke": lab.gpu.smoke}


@reads_a_dataset.verdict
def _(student, reference):
    from sklearn.datasets import load_digits
    count = 96 if student["smoke"] else 128   # the smoke test's cut, else the whole split
    expect_true(student["shape"] == [count, 8, 8, 1], f"read images of shape {student['shape']}")
    expect_true(student["range"][0] == 0 and 0.9 < student["range"][1] <= 1,
                f"pixels range over {student['range']}, not [0, 1]")
    expect_true(student["labels"] == load_digits().target[:count].tolist(), "labels differ")
