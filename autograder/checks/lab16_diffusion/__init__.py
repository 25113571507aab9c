"""Checks of lab16_diffusion: the forward process (forward_process.py), the DDPM and DDIM
samplers (reverse_process.py), score matching and Langevin dynamics (score_matching.py),
classifier-free guidance (guidance.py), the MLP denoiser (denoiser.py) and the diffusion
model with its EMA (diffusion_model.py).

The maths is fed noise schedules the probes compute themselves, and the model checks train
a denoiser the probes build themselves, so each part is graded even when another is
unfinished.
"""
MODULES = ("forward_process", "reverse_process", "score_matching", "guidance", "denoiser",
           "diffusion_model")
