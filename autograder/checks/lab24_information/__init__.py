"""Checks of lab24_information (information theory): the graded module is information.py
(entropy, cross-entropy, KL and mutual information of discrete distributions, plug-in
estimates from samples, the InfoNCE and Donsker-Varadhan bounds, an InfoNCE estimator).

probes.py: inputs and judges the checks share, and the checks' stand-in bound.
public.py: the discrete functions against scipy.stats.entropy and
sklearn.metrics.mutual_info_score; the plug-in estimates and their bias.
public_bounds.py: the neural bounds against Keras's cross-entropy and scipy's logsumexp,
train_step on a stand-in bound against tf.GradientTape, one relative training check.
readiness.py: XLA, mixed precision and retracing of the student's InfoNCEEstimator.
hidden.py: the same on fresh shapes, bases and correlations. References from the solution.
"""
MODULES = ("information",)
