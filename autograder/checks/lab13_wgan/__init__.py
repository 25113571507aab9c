"""Checks of lab13_wgan: exact 1-D and sliced W1 (wasserstein.py), the WGAN losses and the
gradient penalty (wgan_losses.py), the f-GAN losses (fgan_losses.py), the WGAN model with n_critic critic
steps per generator step (wgan_model.py), spectral normalisation, the R1 penalty and its GAN
(regularizers.py), and the Fréchet distance (quality.py).

The step checks build their own small networks, replace the model's noise (sample_latent,
sample_interpolates) with fixed points and the losses with stand-ins of known behaviour
(probes.py), so they grade critic_step, generator_step and train_step on their own; the
training checks use the student's losses and penalty too.
"""
MODULES = ("wasserstein", "wgan_losses", "fgan_losses", "wgan_model", "regularizers", "quality")
