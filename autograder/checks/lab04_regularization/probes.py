"""Helpers that lab04's check files share: probes run them in the worker, verdicts here.
Numpy only at module level. This file ships to students with the public checks: it holds
no attack of its own (the hidden checks have theirs).
"""
import numpy as np

from autograder.api import CheckFailed
from autograder.check_helpers import trajectory
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_finite,
    expect_shape,
    expect_true,
)


def expect_at_least(value, floor, what):
    """`value` reaches `floor`; both printed with enough digits to tell them apart."""
    value = float(value)
    if np.isfinite(value) and value >= floor:
        return
    shown, needed = f"{value:.4g}", f"{floor:.4g}"
    for digits in range(5, 12):
        if shown != needed:
            break
        shown, needed = f"{value:.{digits}g}", f"{floor:.{digits}g}"
    raise CheckFailed(f"{what} is {shown}, needs at least {needed}")


# ---------------------------------------------------------------------------------------------
# Weight decay
# ---------------------------------------------------------------------------------------------


def gradient_problem(rng, shapes, steps):
    initial = [rng.normal(size=s).astype("float32") for s in shapes]
    gradients = [[(rng.normal(size=s) * 10.0 ** rng.uniform(-2, 0.5, size=s)).astype("float32")
                  for s in shapes] for _ in range(steps)]
    return initial, gradients


def adamw_numpy(initial, gradients, lr, decay, beta_1=0.9, beta_2=0.999, eps=1e-7,
                slip=None):
    """AdamW in float64 numpy, optionally with a named slip; for diagnoses only."""
    w = np.concatenate([np.ravel(v) for v in initial]).astype(np.float64)
    m, v, out = np.zeros_like(w), np.zeros_like(w), []
    for t, step in enumerate(gradients, start=1):
        g = np.concatenate([np.ravel(x) for x in step]).astype(np.float64)
        if slip == "through_gradient":
            g = g + decay * w
        elif slip == "without_learning_rate":
            w = w - decay * w
        elif slip != "no_decay":
            w = w - lr * decay * w
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g ** 2
        w = w - lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (np.sqrt(v) + eps)
        out.append(w.copy())
    return np.stack(out)


ADAMW_SLIPS = {
    "through_gradient": "Adam with the decay added to the GRADIENT (g + lambda * w, that is "
                        "L2 in the loss): decoupled decay shrinks the weights directly, "
                        "w <- w - lr * lambda * w, and leaves g alone",
    "no_decay": "plain Adam: the weights are not decayed",
    "without_learning_rate": "a decay of lambda * w per step: Keras scales it by the learning "
                             "rate, w <- w - lr * lambda * w",
}


def judge_adamw(student, reference, what):
    expected = np.asarray(reference["keras"])
    actual = expect_shape(student["student"], expected.shape,
                          f"the variables after each of the {len(expected)} steps of {what}")
    expect_finite(actual, f"the variables during {what}")
    if np.allclose(actual, expected, rtol=2e-4, atol=2e-5):
        return
    hyper = reference["hyper"]
    for slip, meaning in ADAMW_SLIPS.items():
        variant = adamw_numpy(reference["initial"], reference["gradients"], hyper["lr"],
                              hyper["decay"], slip=slip)
        if np.allclose(actual, variant, rtol=1e-3, atol=1e-4):
            raise CheckFailed(f"{what}: the variables follow {meaning}")
    step = int(np.argmax([not np.allclose(a, e, rtol=2e-4, atol=2e-5)
                          for a, e in zip(actual, expected)]))
    expect_close(actual[step], expected[step], f"{what}: the variables after step {step + 1} "
                 "(against keras.optimizers.AdamW on the same gradients)")


ADAMW = {"lr": 0.05, "decay": 0.4}


def adamw_probe(lab, rng, shapes, steps, hyper):
    import keras
    initial, gradients = gradient_problem(rng, shapes, steps)
    return {"initial": initial, "gradients": gradients, "hyper": hyper,
            "student": trajectory(
                lab.weight_decay.AdamW(learning_rate=hyper["lr"], decay=hyper["decay"]),
                initial, gradients),
            "keras": trajectory(
                keras.optimizers.AdamW(learning_rate=hyper["lr"], weight_decay=hyper["decay"]),
                initial, gradients)}


# ---------------------------------------------------------------------------------------------
# Attacks
# ---------------------------------------------------------------------------------------------

def fixed_dropout(rng, units):
    """A stand-in for dropout whose mask the check fixes: in training it zeroes about half
    of its `units` inputs and doubles the others, at inference it returns them unchanged.
    A train_step that forgets training=True shows, and the step stays deterministic."""
    import keras
    mask = np.where(rng.random(units) < 0.5, 0.0, 2.0).astype("float32")

    class FixedDropout(keras.layers.Layer):
        def call(self, x, training=None):
            return x * mask if training else x

    return FixedDropout()


def probe_classifier(rng, input_dim=64, hidden=32, num_classes=10, dropout=False):
    """A small tanh MLP whose weights the probe draws from rng (no zero input gradients);
    with `dropout`, a fixed_dropout layer after the hidden one."""
    import keras
    middle = [fixed_dropout(rng, hidden)] if dropout else []
    model = keras.Sequential([keras.Input((input_dim,)), keras.layers.Dense(hidden, "tanh"),
                              *middle, keras.layers.Dense(num_classes)])
    for weight in model.trainable_weights:
        # Kernels scaled by their fan-in so the logits are of order 1-3, biases small.
        scale = 2.4 / np.sqrt(weight.shape[0]) if len(weight.shape) == 2 else 0.5
        weight.assign((scale * rng.normal(size=weight.shape)).astype("float32"))
    return model


def mean_loss(classifier, x, y, training=False):
    """The classifier's mean cross-entropy on (x, y), computed by the checks (not the lab)."""
    import keras
    logits = keras.ops.cast(classifier(np.asarray(x, "float32"), training=training), "float32")
    return float(np.mean(keras.losses.sparse_categorical_crossentropy(y, logits,
                                                                      from_logits=True)))


def accuracy(classifier, x, y, training=False):
    return float(np.mean(np.argmax(np.asarray(classifier(x, training=training)), axis=-1) == y))


def attack_data(n=40, offset=0):
    from dlkit.data import load_digits
    x, y = load_digits("test", flatten=True)
    return x[offset:offset + n], y[offset:offset + n]


def attack_result(classifier, x, y, x_adv):
    return {"x": x, "x_adv": x_adv, "clean_loss": mean_loss(classifier, x, y),
            "adversarial_loss": mean_loss(classifier, x_adv, y)}


def loss_raise(output):
    return float(output["adversarial_loss"] - output["clean_loss"])


ATTACK_ADVICE = {
    "fgsm": {"ball": "x + epsilon * sign(gradient) moves each pixel by exactly epsilon; the "
                     "raw gradient can move it by any amount",
             "rise": "is the step epsilon * sign(gradient), the largest move inside the ball?",
             "exact": "one step x + epsilon * sign(input_gradient(classifier, x, y)), then "
                      "the clip"},
    "pgd": {"ball": "after every step, project onto the ball around the ORIGINAL x, not "
                    "around the previous iterate",
            "rise": "is the gradient taken again at every x_k, and each step step_size * "
                    "sign(gradient), up the loss?",
            "exact": "each step needs the gradient at the current x_k, then the projection "
                     "around the original x, then the clip"},
}


def judge_attack(student, reference, what, epsilon, kind, clip=(0.0, 1.0), exact=True,
                 share=0.9):
    """An attack's output: its shape, range, ball, the loss it adds, and (exact) the
    reference's adversarial examples. `kind` ("fgsm" or "pgd") picks the advice."""
    advice = ATTACK_ADVICE[kind]
    x = np.asarray(reference["x"], dtype=np.float64)
    x_adv = expect_shape(student["x_adv"], x.shape, what).astype(np.float64)
    expect_finite(x_adv, what)
    low, high = float(x_adv.min()), float(x_adv.max())
    expect_true(low >= clip[0] - 1e-6 and high <= clip[1] + 1e-6,
                f"{what} has values from {low:.4g} to {high:.4g}, outside the data range "
                f"[{clip[0]:g}, {clip[1]:g}]: clip the adversarial examples to [clip_min, "
                "clip_max]")
    for bound, side, beyond in ((0.0, f"below {-epsilon:g}", x < -epsilon),
                                (1.0, f"above {1 + epsilon:g}", x > 1 + epsilon)):
        if clip != (0.0, 1.0) and beyond.any() and np.all(
                np.abs(x_adv[beyond] - bound) <= 1e-6):
            raise CheckFailed(f"{what} sets every pixel where x is {side} to exactly "
                              f"{bound:g} (x goes from {x.min():.3g} to {x.max():.3g}): it "
                              f"clips to a fixed [0, 1] instead of [clip_min, clip_max] = "
                              f"[{clip[0]:g}, {clip[1]:g}]")
    distance = float(np.max(np.abs(x_adv - x)))
    expect_at_most(distance, epsilon + 1e-5,
                   f"||x_adv - x||_inf of {what} (the attack must stay in the epsilon-ball "
                   f"around x; {advice['ball']})")
    raised, wanted = loss_raise(student), loss_raise(reference)
    expect_true(raised > 0, f"{what} LOWERS the classifier's mean loss, from "
                f"{student['clean_loss']:.4f} to {student['adversarial_loss']:.4f}: the step "
                "goes down the gradient (x - ...), an attack goes UP it")
    expect_at_least(raised, share * wanted,
                    f"the rise of the mean cross-entropy that {what} causes (the reference "
                    f"attack raises it by {wanted:.4f}; {advice['rise']})")
    if exact:
        expect_close(x_adv.astype(np.float32), reference["x_adv"],
                     f"{what} (against the reference's examples: {advice['exact']})",
                     atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Shifts
# ---------------------------------------------------------------------------------------------

def shift_numpy(images, shifts):
    """out[n, i, j] = images[n, i - dy, j - dx] where it exists, else 0; for verdicts."""
    images = np.asarray(images)
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    for n, (dy, dx) in enumerate(np.asarray(shifts, dtype=int)):
        if abs(dy) < height and abs(dx) < width:
            out[n, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
                images[n, max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
    return out


SHIFT_SLIPS = (
    ((-1, -1), "by -(dy, dx): the content must move DOWN and RIGHT for positive offsets"),
    ((-1, 1), "the wrong way along the rows: a positive dy must move the content DOWN "
              "(out[i, j] = images[i - dy, j - dx])"),
    ((1, -1), "the wrong way along the columns: a positive dx must move the content RIGHT "
              "(out[i, j] = images[i - dy, j - dx]; with einsum, check which index of the "
              "column matrix is the output's)"),
)


def judge_shift(student, reference, what):
    images, shifts = reference["images"], reference["shifts"]
    actual = expect_shape(student["out"], images.shape, what)
    if not np.allclose(actual, reference["out"], atol=1e-6):
        variants = [(slip, shift_numpy(images, shifts * np.array(signs)))
                    for signs, slip in SHIFT_SLIPS]
        variants.append(("by (dx, dy): shifts[:, 0] is the row offset dy",
                         shift_numpy(images, shifts[:, ::-1])))
        variants.append(("cyclically (np.roll-like): the pixels leaving one side must not "
                         "come back on the other, zeros fill in",
                         np.stack([np.roll(img, tuple(s), axis=(0, 1))
                                   for img, s in zip(images, shifts)])))
        for slip, variant in variants:
            if np.allclose(actual, variant, atol=1e-6):
                raise CheckFailed(f"{what} moves the images {slip}")
    expect_close(actual, reference["out"], what, atol=1e-6)


def identify_shifts(images, out, max_shift):
    """The (dy, dx) within max_shift that explains each output, or (99, 99) when none does."""
    found = np.full((len(images), 2), 99)
    out = np.asarray(out).reshape(len(images), -1)
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            candidate = shift_numpy(images, np.tile([dy, dx], (len(images), 1)))
            found[np.all(np.abs(candidate.reshape(len(images), -1) - out) <= 1e-6, axis=1)] = \
                (dy, dx)
    return found


# ---------------------------------------------------------------------------------------------
# Early stopping
# ---------------------------------------------------------------------------------------------

def describe_script(script):
    losses, patience, min_delta, restore = script
    return (f"patience={patience}, min_delta={min_delta}, restore_best_weights={restore} on "
            f"val_loss {losses}")


def drive_callback(callback, losses):
    """Run the callback through a scripted training the way fit does; the weights of the
    tiny model hold the epoch number, so the final weights tell which epoch they are from.
    Returns (epochs run, the epoch of the final weights)."""
    import keras
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False
    callback.set_model(model)
    callback.on_train_begin()
    ran = 0
    for epoch, loss in enumerate(losses):
        model.set_weights([np.full((1, 1), epoch, "float32"), np.full((1,), epoch, "float32")])
        callback.on_epoch_end(epoch, {"loss": 0.1, "val_loss": float(loss)})
        ran = epoch + 1
        if model.stop_training:
            break
    callback.on_train_end()
    return ran, int(round(float(model.get_weights()[0][0, 0])))


def early_stopping_probe(lab, scripts):
    import keras
    out = {"student_epochs": [], "student_weights_from": [], "keras_epochs": [],
           "keras_weights_from": []}
    for losses, patience, min_delta, restore in scripts:
        ours = lab.early_stopping.EarlyStopping(monitor="val_loss", patience=patience,
                                                min_delta=min_delta, restore_best_weights=restore)
        theirs = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=patience,
                                               min_delta=min_delta, restore_best_weights=restore)
        for who, callback in (("student", ours), ("keras", theirs)):
            ran, weights_from = drive_callback(callback, losses)
            out[f"{who}_epochs"].append(ran)
            out[f"{who}_weights_from"].append(weights_from)
    return out


def judge_early_stopping(student, reference, scripts):
    for index, script in enumerate(scripts):
        ran, wanted = student["student_epochs"][index], reference["keras_epochs"][index]
        expect_true(ran == wanted, f"with {describe_script(script)}, your callback stops "
                    f"training after {ran} epochs; keras.callbacks.EarlyStopping after {wanted}")
    for index, script in enumerate(scripts):
        got, wanted = (student["student_weights_from"][index],
                       reference["keras_weights_from"][index])
        expect_true(got == wanted, f"with {describe_script(script)}, training ends with the "
                    f"weights of epoch {got}; keras.callbacks.EarlyStopping leaves those of "
                    f"epoch {wanted} (epochs counted from 0)")


def other_range_problem(rng):
    """A 12-feature, 3-class probe classifier and 30 inputs in [-1, 1], some of them on its
    edges: an attack must use clip_min and clip_max, not a fixed [0, 1]."""
    classifier = probe_classifier(rng, input_dim=12, hidden=16, num_classes=3)
    x = rng.uniform(-1, 1, size=(30, 12)).astype("float32")
    x[:, :3] = np.sign(x[:, :3])
    return classifier, x, rng.integers(0, 3, size=30).astype("int32")
