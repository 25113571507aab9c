"""Checks of lab12_gan: the GAN losses (gan_losses.py), the networks (gan_networks.py) and
the two-optimizer GAN model (gan_model.py).

The GAN-model checks train networks the probes build themselves, so they grade the
student's train_step and losses, not their network builders.
"""
MODULES = ("gan_losses", "gan_networks", "gan_model")
