"""Checks of lab05_cnn (convolutional networks on procedural shapes).

Graded modules: convolution.py (convolution, transposed convolution and pooling by hand, in
numpy) and networks.py (IoU, a residual block, a small ResNet, a U-Net and a single-object
detector in Keras).
probes.py: what the checks share: random configurations against Keras's layers, the
stand-ins (TensorFlow's padding and patches for same_padding and im2col, so conv2d,
conv_transpose2d and pooling are judged on their own; a one-convolution ResidualBlock for
small_resnet; the check's own loss and loop to train the detector), weight assignment,
.keras round trips and the training probes.
public.py: convolution.py: padding and patches exactly; the operations against Keras's own
layers holding the same (copied) weights, on random sizes, strides, paddings and channel
counts; the transposed convolution also against the gradient of Conv2D; equivariance and
invariance.
public_networks.py: networks.py: IoUs against the reference; the residual block and the
models with weights set by the check (outputs are logits, the ResNet's head averages);
compile_detector on a model of the check's; structures and .keras round trips; one relative
training check each for the U-Net and the detector, scored by library IoUs.
hidden.py: more random configurations, fresh IoU inputs, other block and model sizes.
"""
MODULES = ("convolution", "networks")
