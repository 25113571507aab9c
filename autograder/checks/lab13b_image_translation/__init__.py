"""Checks of lab13b_image_translation: Pix2Pix (pix2pix.py: the U-Net's blocks and skips, the
PatchGAN and its receptive field, the losses, the two-optimizer train_step) and CycleGAN
(cyclegan.py: the LSGAN losses, the image history, the generators' losses, the train_step).

probes.py: the checks' own networks (stand-in U-Net blocks, small translators and patch
critics), stand-in losses of known behaviour, numpy replicas, the training runs.
public_1_pix2pix.py, public_2_cyclegan.py: unit checks on tiny inputs, each model's step on
the checks' networks and stand-in losses with plain SGD (updates against gradients the
check takes itself), one relative training check per model (public_3_training.py).
readiness.py: XLA, mixed precision and retracing of both train_steps.
hidden.py: the same ideas on fresh shapes, seeds and pool sizes.
gpu.py: the student's own U-Nets and PatchGANs trained at 64x64 (Pix2Pix) and 32x32
(CycleGAN).
"""
MODULES = ("pix2pix", "cyclegan")
