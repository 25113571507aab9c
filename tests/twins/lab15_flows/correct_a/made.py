"""MADE for flows: the conditioner of a masked autoregressive flow. Fill in the parts marked TODO.

MADE (Germain et al., 2015) is an MLP whose weight matrices are multiplied by fixed binary
masks, so that output i sees only the inputs that come before i in a chosen order. Here it
conditions a flow: for every data dimension it outputs a shift and a (raw) log-scale, both
functions of the earlier dimensions only.

The pieces, in the order the handout builds them:

1. degrees          made_degrees     which "position" each input and hidden unit stands for
2. masks            mask_from_degrees, made_masks
3. the layers       MaskedDense (a Dense layer with a fixed mask), MADE

Shapes: N examples, D data dimensions, H hidden units per layer.
"""
import keras
import numpy as np

ORDERS = ("left-to-right", "right-to-left")


# ---------------------------------------------------------------------------------------------
# 1-2. Degrees and masks (numpy)
# ---------------------------------------------------------------------------------------------

def made_degrees(dim, hidden_units, order="left-to-right"):
    """The degree of every input unit and of every hidden unit.

    Input degrees are the positions 1..D of the dimensions in the autoregressive order:
    [1, 2, ..., D] for "left-to-right", [D, ..., 2, 1] for "right-to-left" (dimension D-1
    comes first). Hidden unit k (k = 0, 1, ...) of every hidden layer gets the degree
    1 + (k mod max(D - 1, 1)): the degrees 1..D-1 in turn, so that every degree is present
    whenever a layer has at least D - 1 units. (Degree D would be useless: no output may
    depend on it.)

    dim: D; hidden_units: (H_1, ..., H_L); order: one of ORDERS.
    Returns a list of L + 1 int arrays: [input degrees (D,), hidden 1 (H_1,), ..., (H_L,)].
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    # TODO: input degrees 1..D (reversed for right-to-left), then 1 + (k mod max(D - 1, 1)) per hidden layer
    D = int(dim)
    inputs = np.arange(1, D + 1)
    if order == "right-to-left":
        inputs = inputs[::-1]
    degrees = [inputs.astype(int)]
    for units in hidden_units:
        degrees.append(1 + (np.arange(int(units)) % max(D - 1, 1)))
    return degrees


def mask_from_degrees(in_degrees, out_degrees, strict=False):
    """The connectivity mask between two layers of a MADE.

    Unit b of the next layer may see unit a of this one when out_degrees[b] >= in_degrees[a]
    (hidden layers), or out_degrees[b] > in_degrees[a] with strict=True (the output layer:
    output i must not see input i itself).

    in_degrees: (A,); out_degrees: (B,). Returns mask: float32 (A, B) of 0s and 1s, laid out
    like a Dense kernel (inputs along the rows).
    """
    # TODO: compare out_degrees[None, :] with in_degrees[:, None] (> when strict, >= otherwise)
    in_degrees = np.asarray(in_degrees)
    out_degrees = np.asarray(out_degrees)
    if strict:
        mask = out_degrees[None, :] > in_degrees[:, None]
    else:
        mask = out_degrees[None, :] >= in_degrees[:, None]
    return mask.astype("float32")


def made_masks(dim, hidden_units, order="left-to-right", outputs_per_dim=2):
    """Every mask of a MADE with outputs_per_dim outputs per data dimension.

    The output layer has outputs_per_dim * D units: unit p * D + i is parameter p of
    dimension i, so its degree is the input degree of dimension i (the input degrees tiled
    outputs_per_dim times). Hidden masks are not strict; the output mask is.

    Returns a list of L + 1 float32 masks: (D, H_1), (H_1, H_2), ..., (H_L, outputs_per_dim * D)
    (just [(D, outputs_per_dim * D)] when there is no hidden layer).
    """
    # TODO: made_degrees, then mask_from_degrees between consecutive layers; the last one strict, against the tiled input degrees
    degrees = made_degrees(dim, hidden_units, order)
    masks = [mask_from_degrees(a, b) for a, b in zip(degrees[:-1], degrees[1:])]
    out_degrees = np.tile(degrees[0], outputs_per_dim)
    masks.append(mask_from_degrees(degrees[-1], out_degrees, strict=True))
    return masks


# ---------------------------------------------------------------------------------------------
# 3. The layers
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab15_flows")
class MaskedDense(keras.layers.Layer):
    """A Dense layer whose kernel is multiplied by a fixed 0/1 mask.

    MaskedDense(units, mask, activation): mask (in_features, units). The mask is a constant
    of the layer (part of its config), not a weight: training never changes it.
    x: (N, in_features). Returns activation(x @ (kernel * mask) + bias): (N, units).
    """

    def __init__(self, units, mask, activation=None, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.mask = np.asarray(mask, dtype="float32")
        if self.mask.ndim != 2 or self.mask.shape[1] != self.units:
            raise ValueError(f"mask must be (in_features, {self.units}), got {self.mask.shape}")
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        if input_shape[-1] != self.mask.shape[0]:
            raise ValueError(f"the mask expects {self.mask.shape[0]} input features, "
                             f"got input shape {input_shape}")
        self.kernel = self.add_weight(shape=self.mask.shape, initializer=self.kernel_initializer,
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, x):
        # TODO: activation(x @ (kernel * mask) + bias); cast the mask to self.compute_dtype (float16 under mixed precision)
        mask = keras.ops.cast(self.mask, self.compute_dtype)
        kernel = keras.ops.cast(self.kernel, self.compute_dtype)
        y = keras.ops.matmul(x, kernel * mask) + keras.ops.cast(self.bias, self.compute_dtype)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "mask": self.mask.tolist(),
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package="dlkit_lab15_flows")
class MADE(keras.layers.Layer):
    """A MADE that outputs a shift and a raw log-scale for every data dimension.

    MADE(dim, hidden_units, order): ReLU hidden layers, masks from made_masks(...,
    outputs_per_dim=2). The output layer starts at zero (kernel and bias), so a fresh MAF
    is the identity map and training starts from the base density.

    x: (N, D). Returns (shift, raw_log_scale), each (N, D), where output i depends only on
    the inputs that come before i in the order (never on input i itself).
    """

    def __init__(self, dim, hidden_units=(64, 64), order="left-to-right", **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.order = order
        masks = made_masks(self.dim, self.hidden_units, order, outputs_per_dim=2)
        self.hidden = [MaskedDense(units, mask, activation="relu", name=f"hidden_{i}")
                       for i, (units, mask) in enumerate(zip(self.hidden_units, masks))]
        self.output_layer = MaskedDense(2 * self.dim, masks[-1], kernel_initializer="zeros",
                                        name="output")

    def build(self, input_shape):
        shape = input_shape
        for layer in [*self.hidden, self.output_layer]:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x):
        # TODO: run x through the hidden layers and the output layer; the first D outputs are the shift, the next D the raw log-scale
        h = x
        for layer in self.hidden:
            h = layer(h)
        out = self.output_layer(h)
        return out[..., :self.dim], out[..., self.dim:]

    def compute_output_shape(self, input_shape):
        shape = (*input_shape[:-1], self.dim)
        return shape, shape

    def get_config(self):
        return {**super().get_config(), "dim": self.dim,
                "hidden_units": list(self.hidden_units), "order": self.order}
