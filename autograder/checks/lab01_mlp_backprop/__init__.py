"""Checks of lab01_mlp_backprop: an MLP from its pieces, by hand, with GradientTape and Keras.

Graded modules: layers.py (softmax, cross-entropy, dense and ReLU forward/backward,
numerical gradients), mlp.py (the MLP by hand, with tf.GradientTape, as a Keras model) and
regions.py (exact linear regions of a 1-D-input ReLU network). Each check calls as few
functions as it can, so half a lab done earns the points of that half.
"""
MODULES = ("layers", "mlp", "regions")
