"""Checks of lab12_gan: the GAN losses (gan_losses.py), the networks (gan_networks.py) and
the two-optimizer GAN model (gan_model.py).

The GAN-model checks run the student's steps on networks the probes build themselves, with
stand-in losses where they compare updates (probes.py), so they grade the student's steps,
not their network builders or losses; the training checks use the student's losses too.
"""
MODULES = ("gan_losses", "gan_networks", "gan_model")
