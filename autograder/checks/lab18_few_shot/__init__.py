"""Checks of lab18_few_shot (few-shot learning on Omniglot-like glyphs): the graded modules
are fewshot.py (episodes, the Siamese network and contrastive loss, prototypical and matching
networks, the episodic train_step) and maml.py (MAML, first-order MAML, Reptile).

probes.py: the helpers the checks share (the checks' own encoder, stand-in head, training).
public.py: episodes, distances, losses and the metric heads, on random embeddings.
public_train.py: the episodic train_step on a stand-in head; accuracy on unseen classes.
public_maml.py: inner steps, the MAML meta-gradient against an exact closed form (linear
model) and finite differences (tanh MLP), first-order MAML, Reptile.
readiness.py: XLA, mixed precision and retracing of the student's EpisodicClassifier.
hidden.py: the same on fresh shapes, and the matching head trained on unseen classes.
"""
MODULES = ("fewshot", "maml")
