"""Checks of lab24_information (information theory): the graded modules are information.py
(entropy, cross-entropy, KL and mutual information of discrete distributions, plug-in
estimates from samples, the InfoNCE and Donsker-Varadhan bounds, an InfoNCE estimator) and
variational.py (MINE with the moving-average gradient correction, the deep variational
information bottleneck with TFP, the bits-back code length of a small VAE against IWAE).

probes.py: inputs and judges the checks share, and the checks' stand-in bound.
probes_bottleneck.py: budgets, probes and judges of variational.py's training checks.
public.py: the discrete functions against scipy.stats.entropy and
sklearn.metrics.mutual_info_score; the plug-in estimates and their bias.
public_bounds.py: the neural bounds against Keras's cross-entropy and scipy's logsumexp,
train_step on a stand-in bound against tf.GradientTape, one relative training check.
public_mine_vib.py: MINE's corrected gradient against a tape; the VIB posterior and rate
against numpy; IWAE against scipy; relative training checks of MINE, the VIB, the VAE.
readiness.py: XLA, mixed precision and retracing of the student's four models.
hidden.py, hidden_bottleneck.py: the same on fresh shapes, bases and correlations.
References from the solution.
"""
MODULES = ("information", "variational")
