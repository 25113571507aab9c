"""Checks of lab02_autodiff: a tiny autodiff engine in numpy, held against TensorFlow.

Graded modules: reverse.py (the tape: Node, the VJP of each primitive, unbroadcast,
topological_order, backward), forward.py (dual numbers: the JVP of each primitive) and
jacobians.py (full Jacobians from n JVPs or m VJPs, and which mode is cheaper).

TensorFlow is the reference inside the probes: `tf.GradientTape` for the VJPs and
`tf.autodiff.ForwardAccumulator` for the JVPs, primitive by primitive and on random
programs (expression DAGs over broadcasting shapes, drawn from the check's seed). The
engine's own machinery (topological_order, backward) is checked on graphs whose VJPs the
probe writes itself, so a wrong primitive does not cost those points, and vice versa.
"""
MODULES = ("reverse", "forward", "jacobians")
