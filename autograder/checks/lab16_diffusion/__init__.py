"""Checks of lab16_diffusion: the forward process (forward_process.py), the DDPM and DDIM
samplers (reverse_process.py), score matching and Langevin dynamics (score_matching.py),
classifier-free guidance (guidance.py), the MLP denoiser (denoiser.py) and the diffusion
model with its EMA (diffusion_model.py); the U-Net with FiLM (unet.py) and classifier
guidance (classifier_guidance.py).

probes.py: the checks' own schedules, denoiser, stand-ins and training; sampling.py: the
checks' own sampler steps that stand in while a sampler's loop is graded.
public.py: the forward process; public_reverse.py: the single steps and the samplers;
public_score_guidance_denoiser.py: score matching, Langevin, guidance, the denoiser;
public_training.py: DiffusionModel (train_step's timesteps, noise, labels, loss and EMA,
predict_noise, training on moons, saving); readiness.py: XLA, mixed precision, retracing.
probes_unet.py, public_unet.py: FiLM, the residual block, the U-Net (on the checks' own
blocks and embedding) and its training on digits (the checks' own trainer);
public_classifier_guidance.py: the classifier's gradient, the guided noise and predictor.
hidden.py: fresh shapes and sizes, and the whole lab trained at once with guidance.

Each part is graded on its own: the maths gets schedules the probes compute, the samplers
the checks' own single steps, the model the checks' own denoiser, schedule, loss, label
dropout, guidance and EMA step.
"""
MODULES = ("forward_process", "reverse_process", "score_matching", "guidance", "denoiser",
           "diffusion_model", "unet", "classifier_guidance")
