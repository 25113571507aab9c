"""Public checks of lab14_autoregressive, part 6: the gated PixelCNN as a model
(gated_pixelcnn.py).

The model's call and its routing of the label on stand-in gated layers of known behaviour
(a plain 1x1 mix, not a gated layer) against the reference's call on the same; the label's
role (it moves the logits, and with zero embeddings the model is the unconditional one);
class sampling replayed against a stand-in model of known conditionals; training of the
unconditional and the conditional model relative to the reference; the .keras round trip.
"""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import standing_in
from autograder.checks.lab14_autoregressive.probes import (
    assign_by_shape,
    bits_per_dim_np,
    judge_round_trip,
    judge_training,
    judge_variants,
    round_trip,
)
from autograder.checks.lab14_autoregressive.public_z_gated import GATED
from autograder.verdicts import expect_close, expect_equal, expect_true

GATED_TRAIN = {"filters": 8, "num_layers": 2, "learning_rate": 2e-2, "batch_size": 64,
               "epochs": 3}


def standin_layer_class(positive):
    """A stand-in for GatedLayer with its contract (the constructor, build,
    compute_output_shape, call(v, h, label=None) -> (v_out, h_out)) and known behaviour that
    is not a gated layer: v_out = tanh(1x1 conv of v), h_out = 1x1 conv of h + v_out, both
    plus a (filters,) class bias from an Embedding when a label is given; positive: h_out
    through a softplus (so a ReLU after the stack changes nothing). Records each call's
    label (None or the values) in `calls` and its h_out in `outputs`."""
    import keras

    class StandInGatedLayer(keras.layers.Layer):
        calls, outputs = [], []

        def __init__(self, filters, kernel_size=3, first=False, num_classes=0, **kwargs):
            super().__init__(**kwargs)
            self.filters, self.num_classes = int(filters), int(num_classes)
            self.v_1x1 = keras.layers.Conv2D(self.filters, 1)
            self.h_1x1 = keras.layers.Conv2D(self.filters, 1)
            self.class_bias = (keras.layers.Embedding(self.num_classes, self.filters)
                               if self.num_classes else None)

        def build(self, input_shape):
            self.v_1x1.build(input_shape)
            self.h_1x1.build(input_shape)
            if self.class_bias is not None:
                self.class_bias.build((None,))
            self.built = True

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.filters)

        def call(self, v, h, label=None):
            type(self).calls.append(None if label is None else np.asarray(label).tolist())
            v_out = keras.ops.tanh(self.v_1x1(v))
            h_out = self.h_1x1(h) + v_out
            if label is not None and self.class_bias is not None:
                bias = self.class_bias(label)[:, None, None, :]
                v_out, h_out = v_out + bias, h_out + bias
            h_out = keras.ops.softplus(h_out) if positive else h_out
            type(self).outputs.append(h_out)
            return v_out, h_out
    return StandInGatedLayer


@check(points=1, uses=GATED, task="`gated_pixelcnn.GatedPixelCNN.call`",
       hint="call: v = h = x; v, h = layer(v, h, label) for every layer in order; logits = "
            "output_1x1(hidden_1x1(relu(h))), the horizontal stack's h")
def gated_call(lab, rng):
    """GatedPixelCNN(6x6, filters=4, num_layers=3), unconditional, its GatedLayers stood in
    for by a check-defined layer of known behaviour (not a gated layer) with random weights:
    the logits against the reference's call on the same stand-ins."""
    module = lab.gated_pixelcnn
    layer = standin_layer_class(positive=False)
    with standing_in(module, GatedLayer=layer):
        model = module.GatedPixelCNN((6, 6, 1), filters=4, num_layers=3)
        assign_by_shape(model, rng, scale=0.7)
        x = (rng.random((3, 6, 6, 1)) < 0.5).astype("float32")
        layer.calls.clear()
        layer.outputs.clear()
        logits = model(x)
        calls = len(layer.calls)
    # The usual slip on the last layer's h: no ReLU before hidden_1x1.
    last = layer.outputs[-1] if layer.outputs else np.zeros((3, 6, 6, 4), "float32")
    return {"logits": logits, "calls": calls,
            "no_relu": model.output_1x1(model.hidden_1x1(last))}


@gated_call.verdict
def _(student, reference):
    expect_equal(student["calls"], 3, "the number of GatedLayer calls in one call of a "
                 "3-layer model")
    judge_variants(student["logits"], {"expected": reference["logits"],
                                       "no_relu": reference["no_relu"]},
                   {"no_relu": "no ReLU before hidden_1x1: logits = "
                               "output_1x1(hidden_1x1(relu(h)))"},
                   "GatedPixelCNN((6, 6, 1), filters=4, num_layers=3)(x) for x (3, 6, 6, 1), "
                   "with stand-in GatedLayers (the same for the reference)")


@check(points=1, uses=GATED, task="`gated_pixelcnn.GatedPixelCNN.call` (the label)",
       hint="the label goes to every GatedLayer, which adds its embeddings after the link; it "
            "enters nowhere else (with V = 0 the model is the unconditional one)")
def conditional_logits(lab, rng):
    """The conditioning only. With stand-in GatedLayers (of known behaviour, their h_out
    positive): the labels each layer gets and the logits for labels 0, 1, 2 against the
    reference's call. GatedPixelCNN(6x6, filters=4, num_layers=2, num_classes=3), random
    weights: the logits move with the label; with zero embeddings (V = 0) they no longer
    do, and equal the unconditional model's with the same other weights."""
    module = lab.gated_pixelcnn
    x = (rng.random((3, 6, 6, 1)) < 0.5).astype("float32")
    labels = np.array([0, 1, 2])
    layer = standin_layer_class(positive=True)
    with standing_in(module, GatedLayer=layer):
        standin = module.GatedPixelCNN((6, 6, 1), filters=4, num_layers=2, num_classes=3)
        assign_by_shape(standin, rng, scale=0.7)
        layer.calls.clear()
        out = {"standin": standin({"image": x, "label": labels}),
               "standin_labels": [[-1] if c is None else c for c in layer.calls]}
    model = module.GatedPixelCNN((6, 6, 1), filters=4, num_layers=2, num_classes=3)
    assign_by_shape(model, rng, scale=0.5)
    out["logits"] = model({"image": x, "label": labels})
    out["other_label"] = model({"image": x, "label": np.array([2, 0, 1])})
    embeddings = [w for w in model.trainable_weights if tuple(w.shape) == (3, 8)]
    for weight in embeddings:
        weight.assign(np.zeros((3, 8), dtype="float32"))
    out["zero_v"] = model({"image": x, "label": labels})
    out["zero_v_other"] = model({"image": x, "label": np.array([2, 0, 1])})
    plain = module.GatedPixelCNN((6, 6, 1), filters=4, num_layers=2, num_classes=0)
    values = [np.asarray(w) for w in model.trainable_weights if tuple(w.shape) != (3, 8)]
    for weight, value in zip(plain.trainable_weights, values):
        weight.assign(value)
    out["unconditional"] = plain(x)
    out["embeddings"] = len(embeddings)
    return out


@conditional_logits.verdict
def _(student, reference):
    expect_equal(student["embeddings"], 4, "the number of (num_classes, 2F) embedding weights "
                 "of a 2-layer conditional model")
    expect_equal(student["standin_labels"], [[0, 1, 2]] * 2, "the labels each of the 2 "
                 "(stand-in) GatedLayers gets for labels [0, 1, 2] ([-1]: none): pass the "
                 "label to every layer")
    expect_close(student["standin"], reference["standin"], "GatedPixelCNN(num_classes=3)("
                 "{image, label}) with stand-in GatedLayers (the same for the reference)")
    change = float(np.abs(np.asarray(student["logits"]) - student["other_label"]).max())
    expect_true(change > 1e-3, f"the logits move by only {change:.2g} when the labels change: "
                "pass the label to every GatedLayer, which adds its embeddings after the link")
    expect_close(student["zero_v"], student["zero_v_other"], "the logits with zero embeddings "
                 "(V = 0) for other labels", against="those for labels 0, 1, 2: the label may "
                 "enter only through the embeddings, added after the link", rtol=1e-5,
                 atol=1e-6)
    expect_close(student["zero_v"], student["unconditional"], "the logits with zero embeddings",
                 against="the unconditional model's with the same other weights",
                 rtol=1e-5, atol=1e-6)


class StandInConditional:
    """A stand-in model of known raster-order conditionals (not a PixelCNN): logit_d = b_d +
    2 label - 1 + sum over j < d of W[d, j] x_j on flattened (4, 4, 1) images; it records the
    labels it is called with."""

    def __init__(self, rng):
        self.weights = np.tril(3.0 * rng.normal(size=(16, 16)), k=-1)
        self.bias = rng.normal(size=16)
        self.labels = set()

    def logits(self, flat, labels):
        return flat @ self.weights.T + self.bias + 2.0 * np.asarray(labels)[:, None] - 1.0

    def __call__(self, inputs):
        images, labels = np.asarray(inputs["image"]), np.asarray(inputs["label"])
        self.labels.add(tuple(int(v) for v in labels))
        return self.logits(images.reshape(len(images), -1), labels).reshape(images.shape)


@check(points=1, uses=("likelihood", "pixelcnn", "sampling", "gated_pixelcnn"),
       reference=False, task="`gated_pixelcnn.sample_class`",
       hint="logits_fn(flat) = model({'image': flat reshaped to (N, H, W, C), 'label': an (N,) "
            "array of the label}) flattened; sample_autoregressive in raster order")
def sample_class(lab, rng):
    """A stand-in model of known conditionals on 4x4 images, labels 0 and 1, 12 samples each:
    every pixel is the Bernoulli draw (u < sigmoid) of its conditional given the pixels
    drawn before it and the label."""
    model = StandInConditional(rng)
    out = {}
    for label in (0, 1):
        uniform = rng.random((12, 16))
        x = np.asarray(lab.gated_pixelcnn.sample_class(model, (4, 4, 1), label, uniform))
        flat = x.reshape(12, -1) if x.size == 12 * 16 else np.zeros((12, 16))
        logits = model.logits(flat, np.full(12, label))
        out[f"shape_{label}"] = list(x.shape)
        out[f"x_{label}"] = flat
        out[f"replayed_{label}"] = (uniform < 1 / (1 + np.exp(-logits))).astype("float32")
    out["labels"] = sorted(model.labels)
    return out


@sample_class.verdict
def _(student, _reference):
    for label in (0, 1):
        expect_equal(tuple(student[f"shape_{label}"]), (12, 4, 4, 1),
                     f"sample_class(model, (4, 4, 1), {label}, uniform (12, 16)).shape")
        x, replayed = np.asarray(student[f"x_{label}"]), np.asarray(student[f"replayed_{label}"])
        wrong = np.argwhere(x != replayed)
        if len(wrong):
            n, d = (int(i) for i in wrong[0])
            raise CheckFailed(f"sample_class(..., label={label}): sample {n}, pixel {d} (raster "
                              f"order) is {x[n, d]:g}, but its conditional given the pixels "
                              f"before it draws {replayed[n, d]:g} ({len(wrong)} of 192 differ): "
                              "call the model on the current images with the label, once per "
                              "pixel, through sample_autoregressive")
    expect_equal([list(t) for t in student["labels"]], [[0] * 12, [1] * 12],
                 "the labels the model was called with")


@check(points=3, uses=GATED, timeout=40, task="the whole `gated_pixelcnn.GatedPixelCNN`",
       hint="GatedPixelCNN(filters=8, num_layers=2, num_classes=10) trained by fit() must reach "
            "the reference's held-out bits per dimension within 0.05, and the true labels must "
            "help")
def gated_trains(lab, rng):
    """The conditional model (filters 8, 2 layers, 10 classes), 3 epochs on binarised digits:
    held-out bits per dimension within 0.05 of the reference's, and at least 0.4 of the
    reference's gain over the same model given wrong labels."""
    import keras

    from dlkit.data import load_digits
    budget = GATED_TRAIN
    (x, y), (x_test, y_test) = (load_digits(split, binarize=True) for split in ("train", "test"))
    # Whole batches only: a smaller last batch would trace the step a second time.
    whole = len(x) // budget["batch_size"] * budget["batch_size"]
    x, y, x_test = x[:whole].reshape(-1, 8, 8, 1), y[:whole], x_test.reshape(-1, 8, 8, 1)
    # Every test label moved to another class: what the label is worth, without training a
    # second (unconditional) model.
    wrong = (y_test + np.random.default_rng(0).integers(1, 10, len(y_test))) % 10
    model = lab.gated_pixelcnn.GatedPixelCNN((8, 8, 1), budget["filters"], budget["num_layers"],
                                             num_classes=10)
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]))
    model.optimizer.build(model.trainable_variables)  # built in the step, it traces twice
    before = bits_per_dim_np(model({"image": x_test, "label": y_test}), x_test)
    model.fit({"image": x, "label": y}, batch_size=budget["batch_size"],
              epochs=budget["epochs"], shuffle=True, verbose=0)
    return {"before": before,
            "after": bits_per_dim_np(model({"image": x_test, "label": y_test}), x_test),
            "wrong_labels": bits_per_dim_np(model({"image": x_test, "label": wrong}), x_test)}


@gated_trains.verdict
def _(student, reference):
    # Over seeds 0-11 the reference reaches 0.505-0.546 bits, and the true labels gain
    # 0.054-0.102 bits over wrong ones.
    judge_training(student, reference, "class-conditional gated PixelCNN", margin=0.05)
    gain = student["wrong_labels"] - student["after"]
    reference_gain = reference["wrong_labels"] - reference["after"]
    expect_true(gain >= 0.4 * reference_gain,
                f"the label helps too little: with the true labels the trained model reaches "
                f"{student['after']:.3f} bits per dimension, with wrong ones "
                f"{student['wrong_labels']:.3f} (the reference gains {reference_gain:.3f} "
                "bits): is the label's embedding added in every layer?")


@check(points=1, uses=GATED, reference=False, task="the `gated_pixelcnn.py` models (`.keras`)",
       hint="the given __init__ and build make the weights; call() must work on a reloaded "
            "model (the masks are set again in __init__)")
def gated_saves_and_loads(lab, rng):
    """A conditional GatedPixelCNN reloads from `.keras` with the same config, weights and
    outputs."""
    model = lab.gated_pixelcnn.GatedPixelCNN((6, 6, 1), filters=4, num_layers=2, num_classes=3)
    assign_by_shape(model, rng, scale=0.3)
    x = {"image": (rng.random((3, 6, 6, 1)) < 0.5).astype("float32"),
         "label": np.array([0, 2, 1])}
    return round_trip(model, x, str(lab.tmpdir / "gated.keras"))


@gated_saves_and_loads.verdict
def _(student, _reference):
    judge_round_trip(student, "GatedPixelCNN(num_classes=3)")
