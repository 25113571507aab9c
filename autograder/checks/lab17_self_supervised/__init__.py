"""Checks of lab17_self_supervised (self-supervised and semi-supervised learning): the graded
module is selfsup.py (augmentations, NT-Xent and InfoNCE, SimCLR, CPC, BYOL, the Pi-model and
the mean teacher, the linear probe).

probes.py: the helpers the checks share: independent numpy references written as explicit
enumerations (never the vectorised form the student writes), and the checks' stand-ins.
public.py: the losses and small functions, against those references and the stored outputs.
public_models.py: the train_steps and model methods, each run on the checks' own stand-ins
(a deterministic augmenter, recording losses), against one step computed with GradientTape;
the relative training checks (SimCLR's linear-probe margin, CPC).
readiness.py: XLA, mixed precision and retracing of SimCLR, CPC, BYOL and the Pi-model.
hidden.py: the losses on fresh sizes and temperatures, against the solution.
"""
MODULES = ("selfsup",)
