"""Checks of lab16b_energy_models: the Hopfield network (hopfield.py), the restricted
Boltzmann machine (rbm.py) and the energy-based model trained with Langevin samples (ebm.py).

probes.py: the helpers the checks share (spin-glass couplings, the projection rule, brute
force over every state of a tiny RBM, the recorded sampler, the data and the metrics).
public_1_hopfield.py: the Hebbian rule, the energy, both dynamics, recall, the capacity curve.
public_2_rbm.py: conditionals and free energy against enumeration, log Z, Gibbs steps
replayed and the chain's distribution, the CD loss and a CD-k step replayed, one relative
training check on the binarised digits.
public_3_ebm.py: Langevin on quadratic energies, the contrastive loss, train_step on
stand-ins, one relative training check on 2-D blobs.
readiness.py: XLA, mixed precision and retracing of RBM and EBM.
hidden.py: the same ideas on fresh sizes and seeds, against numpy loops.
gpu.py: an RBM on binarised MNIST; an EBM at scale on the two moons.
"""
MODULES = ("hopfield", "rbm", "ebm")
