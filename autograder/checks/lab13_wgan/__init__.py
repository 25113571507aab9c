"""Checks of lab13_wgan: exact 1-D and sliced W1 (wasserstein.py), the WGAN losses and the
gradient penalty (wgan_losses.py), the f-GAN losses (fgan_losses.py) and the WGAN model with
n_critic critic steps per generator step (wgan_model.py).

The model checks build their own small networks and replace the model's noise
(sample_latent, sample_interpolates) with fixed tensors where they compare updates with the
reference, so they grade critic_step and train_step, not the network builders or how the
randomness is drawn.
"""
MODULES = ("wasserstein", "wgan_losses", "fgan_losses", "wgan_model")
