"""Lab 14, part 2: MADE, the masked autoencoder for distribution estimation.

A MADE is an MLP whose weight matrices are multiplied by fixed binary masks, so that output d
(the logit of p(x_d = 1 | x_<d)) depends only on the inputs that come before d in a chosen
ordering. The masks come from *degrees*, one integer per unit:

    input_degrees    the degree of input d is its position in the ordering, 1..D
    hidden_degrees   each hidden unit gets a degree in 1..D-1: the most inputs it may see
    hidden_mask      unit k may feed unit j when degree(j) >= degree(k)
    output_mask      ... and output d only when degree(d) >  degree(k) (strictly!)
    made_masks       the masks of a whole MADE
    MaskedDense      a Dense layer whose kernel is multiplied by a mask
    MADE             the model: MaskedDense layers, one logit per input

Shapes: N examples, D input dimensions, H hidden units. Degrees are integer arrays; a mask
has the shape of the kernel it masks, (fan_in, fan_out), with 1.0 where a weight may be
non-zero.
"""
import keras
import numpy as np
import tensorflow as tf  # noqa: F401  (yours to use, e.g. in MaskedDense.call)
from likelihood import AutoregressiveModel

# ---------------------------------------------------------------------------------------------
# 1. Degrees and masks (numpy)
# ---------------------------------------------------------------------------------------------

def input_degrees(order):
    """The degree of each input dimension: its 1-based position in the ordering.

    order: (D,) a permutation of 0..D-1 listing the dimensions in the order they are
    generated (order[0] first). Returns degrees: (D,) int, with degrees[order[k]] = k + 1.
    E.g. order [2, 0, 1] gives degrees [2, 3, 1].
    """
    # TODO: invert the permutation: dimension order[k] gets degree k + 1
    raise NotImplementedError("fill in the TODO above")


def hidden_degrees(num_units, input_dim):
    """Degrees of a hidden layer: 1, 2, ..., D-1, 1, 2, ... cycling over the units.

    A hidden unit of degree m may see the inputs of degree <= m. Degree D would see every
    input and help no output, so degrees stop at D-1; cycling (instead of sampling them
    at random) makes every degree present once num_units >= D-1.
    Returns degrees: (num_units,) int. input_dim: D >= 2.
    """
    # TODO: 1 + (unit index modulo (D - 1))
    raise NotImplementedError("fill in the TODO above")


def hidden_mask(in_degrees, out_degrees):
    """Mask of a kernel into a hidden layer: unit k -> unit j allowed iff out[j] >= in[k].

    in_degrees: (fan_in,); out_degrees: (fan_out,). Returns mask: (fan_in, fan_out) float32.
    """
    # TODO: compare the degrees of every (in, out) pair at once: broadcast a column against a row
    raise NotImplementedError("fill in the TODO above")


def output_mask(in_degrees, out_degrees):
    """Mask of the kernel into the outputs: unit k -> output d allowed iff out[d] > in[k].

    Strict: with >=, output d could see a hidden unit that sees x_d itself, and the model
    would learn to copy x_d instead of predicting it.
    in_degrees: (fan_in,) hidden degrees; out_degrees: (D,) input degrees.
    Returns mask: (fan_in, D) float32.
    """
    # TODO: the same broadcast comparison as hidden_mask, but strictly greater
    raise NotImplementedError("fill in the TODO above")


def made_masks(order, hidden_units):
    """The masks of a MADE with the given ordering and hidden layer widths.

    order: (D,) generation order; hidden_units: widths (H_1, ..., H_L), L >= 1.
    Returns a list of L + 1 float32 masks: (D, H_1), (H_1, H_2), ..., (H_L, D).
    Built from the functions above (the check of made_masks replaces them with its own).
    """
    # TODO: input_degrees(order); hidden_degrees(units, D) for each hidden layer;
    #       hidden_mask(previous degrees, these degrees) between consecutive layers;
    #       output_mask(last hidden degrees, input degrees) into the outputs
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 2. The layer and the model
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
class MaskedDense(keras.layers.Layer):
    """A Dense layer with a fixed binary mask on its kernel: y = act(x @ (W * mask) + b).

    mask: (fan_in, units). x: (N, fan_in). Returns y: (N, units).
    Masked weights still exist, but multiplying by the mask in call() keeps them out of the
    output and gives them zero gradient.
    """

    def __init__(self, units, mask, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_mask = np.asarray(mask, dtype=np.float32)
        if self.kernel_mask.ndim != 2 or self.kernel_mask.shape[1] != self.units:
            raise ValueError(f"mask must be (fan_in, {self.units}), "
                             f"got {self.kernel_mask.shape}")
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        if input_shape[-1] != self.kernel_mask.shape[0]:
            raise ValueError(f"the mask expects {self.kernel_mask.shape[0]} inputs, "
                             f"got {input_shape[-1]}")
        # TODO: add_weight a "kernel" (fan_in, units) with glorot_uniform and a "bias" (units,) of
        #       zeros
        raise NotImplementedError("fill in the TODO above")

    def call(self, x):
        # TODO: x @ (kernel * mask) + bias, then the activation (cast the mask to the kernel's
        #       dtype)
        raise NotImplementedError("fill in the TODO above")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "mask": self.kernel_mask.tolist(),
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
class MADE(AutoregressiveModel):
    """p(x) = prod_d p(x_d | x_<d) for binary x, each factor Bernoulli(sigmoid(logit_d)).

    MADE(input_dim, hidden_units, order): hidden_units: widths of the ReLU hidden layers;
    order: the generation order (a permutation of 0..D-1), None for 0, 1, ..., D-1.
    x: (N, D). call(x) returns logits: (N, D), where logits[:, d] depends only on the
    inputs before d in the order.
    """

    def __init__(self, input_dim=64, hidden_units=(128,), order=None, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.order = (list(range(self.input_dim)) if order is None
                      else [int(d) for d in order])
        if sorted(self.order) != list(range(self.input_dim)):
            raise ValueError(f"order must be a permutation of 0..{self.input_dim - 1}")
        masks = made_masks(self.order, self.hidden_units)
        self.hidden = [MaskedDense(units, mask, activation="relu", name=f"hidden_{i}")
                       for i, (units, mask) in enumerate(zip(self.hidden_units, masks))]
        self.output_layer = MaskedDense(self.input_dim, masks[-1], name="logits")
        self.build((None, self.input_dim))  # an unbuilt model would save without weights

    def build(self, input_shape):
        shape = input_shape
        for layer in [*self.hidden, self.output_layer]:
            if not layer.built:
                layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x):
        # TODO: the hidden MaskedDense layers in turn, then the output layer (logits, no activation)
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "hidden_units": list(self.hidden_units), "order": list(self.order)}
