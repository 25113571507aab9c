"""Lab 14, part 7: the gated PixelCNN (van den Oord et al., 2016), unconditional and
class-conditional. Fill in the parts marked TODO.

A stack of type-B masked convolutions has a blind spot: the pixels up and to the right that
no path of masked kernels reaches. The gated PixelCNN removes it with two stacks:

    vertical stack    a k x k kernel masked to the rows up to AND including its centre row
                      (all columns): its feature at row r sees every input row <= r, within
                      reach, full width. It never feeds the output directly.
    horizontal stack  a kernel masked to the centre row, left of the centre (type "A" in the
                      first layer: not the centre; type "B" after it): it sees the pixels to
                      the left in the row. It also receives the vertical stack's features
                      SHIFTED DOWN ONE ROW (down_shift), so at row r only rows < r arrive.

One gated layer, with v, h its inputs (N, H, W, C) and 2F-channel pre-activations:

    v_pre = v_conv(v)
    h_pre = h_conv(h) + v_to_h(down_shift(v_pre))         the vertical-to-horizontal link
    class-conditional: add the label's embedding, a (2F,) bias per class, to both:
    v_pre += v_embedding(label);  h_pre += h_embedding(label)
    v_out = gated_activation(v_pre)                        tanh(first F) * sigmoid(last F)
    h_out = h_out_1x1(gated_activation(h_pre)) (+ h, the residual, in every layer but the
            first)

So each gated unit is tanh(W_f * x + V_f y) * sigmoid(W_g * x + V_g y) with y the one-hot
label: the label enters as a bias inside the gate and nowhere else (with V = 0 the model is
the unconditional one). The layers reuse MaskedConv2D and gated_activation of pixelcnn.py.

    vertical_mask, horizontal_mask   the two kernels' masks, (k, k)
    down_shift                       out[:, r] = in[:, r - 1], a row of zeros on top
    GatedLayer.call                  one gated layer, as above
    GatedPixelCNN.call               the layers, then ReLU, a 1x1 conv (ReLU) and a 1x1 conv
    sample_class                     images of one class, pixel by pixel
"""
import keras
import numpy as np
import tensorflow as tf
from likelihood import AutoregressiveModel
from pixelcnn import MaskedConv2D, gated_activation
from sampling import sample_autoregressive


def vertical_mask(kernel_size):
    """The vertical stack's (k, k) mask, k odd: 1.0 on every row up to and including the
    centre row (all k columns), 0.0 on the rows below it.

    E.g. kernel_size 3: [[1, 1, 1], [1, 1, 1], [0, 0, 0]]. Returns (k, k) float32.
    """
    # TODO: ones on the rows 0 .. k // 2 (the centre row included), zeros below
    raise NotImplementedError("fill in the TODO above")


def horizontal_mask(kernel_size, mask_type):
    """The horizontal stack's (k, k) mask, k odd: on the centre row only, 1.0 left of the
    centre, and at the centre for mask_type "B" (not "A"); 0.0 on every other row.

    E.g. kernel_size 3, type "A": [[0, 0, 0], [1, 0, 0], [0, 0, 0]]. Returns (k, k) float32.
    """
    # TODO: zeros, then ones left of the centre in the centre row; the centre too for "B"
    raise NotImplementedError("fill in the TODO above")


def down_shift(x):
    """Shift feature maps down one row: out[:, r] = x[:, r - 1], out[:, 0] = 0.

    x: (N, H, W, C). Returns (N, H, W, C): the last row of x drops out.
    """
    # TODO: a row of zeros on top (tf.pad on axis 1), then drop the last row
    raise NotImplementedError("fill in the TODO above")


@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
class GatedLayer(keras.layers.Layer):
    """One layer of the gated PixelCNN: (v, h) -> (v_out, h_out), both (N, H, W, filters).

    GatedLayer(filters, kernel_size, first, num_classes). Sublayers (given): v_conv and
    h_conv (MaskedConv2D, 2 * filters outputs, with vertical_mask and horizontal_mask(k, "A"
    if first else "B")), v_to_h (1x1, 2 * filters), h_out_1x1 (1x1, filters), and, when
    num_classes > 0, v_embedding and h_embedding (keras Embedding(num_classes, 2 * filters)).
    """

    def __init__(self, filters, kernel_size=3, first=False, num_classes=0, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), int(kernel_size)
        self.first, self.num_classes = bool(first), int(num_classes)
        self.v_conv = MaskedConv2D(2 * self.filters, self.kernel_size, "B", name="v_conv")
        self.v_conv.kernel_mask = vertical_mask(self.kernel_size)
        self.h_conv = MaskedConv2D(2 * self.filters, self.kernel_size, "B", name="h_conv")
        self.h_conv.kernel_mask = horizontal_mask(self.kernel_size, "A" if self.first else "B")
        self.v_to_h = keras.layers.Conv2D(2 * self.filters, 1, name="v_to_h")
        self.h_out_1x1 = keras.layers.Conv2D(self.filters, 1, name="h_out_1x1")
        self.v_embedding = self.h_embedding = None
        if self.num_classes:
            self.v_embedding = keras.layers.Embedding(self.num_classes, 2 * self.filters,
                                                      name="v_embedding")
            self.h_embedding = keras.layers.Embedding(self.num_classes, 2 * self.filters,
                                                      name="h_embedding")

    def build(self, input_shape):
        """input_shape: the shape of v (and of h)."""
        wide = (*input_shape[:-1], 2 * self.filters)
        self.v_conv.build(input_shape)
        self.h_conv.build(input_shape)
        self.v_to_h.build(wide)
        self.h_out_1x1.build((*input_shape[:-1], self.filters))
        if self.num_classes:
            self.v_embedding.build((None,))
            self.h_embedding.build((None,))

    def call(self, v, h, label=None):
        """v, h: (N, H, W, C); label: (N,) int class labels, or None (unconditional).
        Returns (v_out, h_out), each (N, H, W, filters)."""
        # TODO: v_pre = v_conv(v); h_pre = h_conv(h) + v_to_h(down_shift(v_pre)); with a label, add
        #       v_embedding(label) and h_embedding(label) as (N, 1, 1, 2F) biases; v_out =
        #       gated_activation(v_pre); h_out = h_out_1x1(gated_activation(h_pre)), plus h unless
        #       first
        raise NotImplementedError("fill in the TODO above")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "first": self.first,
                "num_classes": self.num_classes}


@keras.saving.register_keras_serializable(package="dlkit_lab14_autoregressive")
class GatedPixelCNN(AutoregressiveModel):
    """The gated PixelCNN, class-conditional when num_classes > 0.

    GatedPixelCNN(image_shape, filters, num_layers, kernel_size, num_classes): num_layers
    GatedLayers (the first with first=True), then ReLU, hidden_1x1 (a 1x1 Conv2D, filters,
    ReLU) and output_1x1 (a 1x1 Conv2D to one logit per channel) on the horizontal stack.
    Inputs: images x (N, H, W, C) binary, or, when conditional, a dict {"image": x,
    "label": (N,) int}. call(inputs) returns logits (N, H, W, C). fit() takes the same
    inputs (a dict of arrays for the conditional model).
    """

    def __init__(self, image_shape=(8, 8, 1), filters=16, num_layers=3, kernel_size=3,
                 num_classes=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.filters, self.num_layers = int(filters), int(num_layers)
        self.kernel_size, self.num_classes = int(kernel_size), int(num_classes)
        self.gated_layers = [GatedLayer(self.filters, self.kernel_size, first=(i == 0),
                                        num_classes=self.num_classes, name=f"gated_{i}")
                             for i in range(self.num_layers)]
        self.hidden_1x1 = keras.layers.Conv2D(self.filters, 1, activation="relu",
                                              name="hidden_1x1")
        self.output_1x1 = keras.layers.Conv2D(self.image_shape[-1], 1, name="logits")
        shape = (None, *self.image_shape)
        for layer in self.gated_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.hidden_1x1.build(shape)
        self.output_1x1.build(shape)
        self.built = True

    def split_inputs(self, inputs):
        """(images, labels or None) of an input: a dict {"image", "label"} or images."""
        if isinstance(inputs, dict):
            return inputs["image"], keras.ops.cast(inputs["label"], "int32")
        return inputs, None

    def call(self, inputs):
        x, label = self.split_inputs(inputs)
        # TODO: v = h = x (cast to the layers' dtype); v, h = layer(v, h, label) for each gated
        #       layer; logits = output_1x1(hidden_1x1(relu(h)))
        raise NotImplementedError("fill in the TODO above")

    # Given: the likelihood and the logged metrics read the images out of a dict input.
    def negative_log_likelihood(self, inputs, logits):
        return super().negative_log_likelihood(self.split_inputs(inputs)[0], logits)

    def update_trackers(self, inputs, nll):
        return super().update_trackers(self.split_inputs(inputs)[0], nll)

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "filters": self.filters, "num_layers": self.num_layers,
                "kernel_size": self.kernel_size, "num_classes": self.num_classes}


def sample_class(model, image_shape, label, uniform):
    """N images of class `label` from a conditional model, pixel by pixel in raster order.

    model: called as model({"image": x (N, H, W, C) float32, "label": (N,) int32}) -> logits
    (N, H, W, C); image_shape: (H, W, C); label: an int; uniform: (N, H * W * C) numbers in
    [0, 1), one per dimension in raster order (the flattened image). Use
    sampling.sample_autoregressive with the order 0, 1, ..., H * W * C - 1.
    Returns x: (N, H, W, C) float32.
    """
    # TODO: a logits_fn mapping flat (N, D) images to flat (N, D) logits of the model called with
    #       the images reshaped and a (N,) array of the label; then sample_autoregressive
    raise NotImplementedError("fill in the TODO above")
