"""Checks of lab05_cnn (convolutional networks on procedural shapes).

Graded modules: convolution.py (convolution, transposed convolution and pooling by hand, in
numpy) and networks.py (IoU, a residual block, a small ResNet, a U-Net and a single-object
detector in Keras).
public.py: the by-hand operations against Keras's own layers holding the same (copied)
weights, on random sizes, strides, paddings and channel counts drawn from the seed; the
transposed convolution also against the gradient of Conv2D; translation equivariance and
invariance; the residual block with weights set by the check; model structures and .keras
round trips; one relative training check each for the U-Net and the detector, scored by
library IoUs (Keras's box IoU, scikit-learn's Jaccard index for masks), not the
student's, so a wrong IoU cannot fail or flatter a trained model.
hidden.py: more random configurations, fresh IoU inputs, other block and model sizes.
"""
MODULES = ("convolution", "networks")
