"""Checks of lab15_flows (normalizing flows on 2-D toy densities): the graded modules are
made.py (MADE for flows: degrees, masks, masked layers) and flows.py (change of variables,
affine couplings, actnorm, MAF, the flow model, TFP bijectors).

probes.py: the helpers the checks share; stand_ins.py: the checks' own flow layers and model.
public.py: the change of variables, bounded log-scales, the MADE.
public_layers.py: couplings, alternating masks, ActNorm, the MAF layer: invariants that need
no reference (inverse(forward(x)) == x, log-determinants against autodiff Jacobians) and
values on fixed weights.
public_model.py: FlowModel, FlowBijector, train_step, test_step and get_config, each run on
the checks' own layers; one relative training check (two moons).
readiness.py: XLA, mixed precision and retracing of the student's RealNVP.
hidden.py: the same on fresh shapes and sizes, the density integrating to one, and a MAF
training check on the student's whole MAF.
"""
MODULES = ("made", "flows")
