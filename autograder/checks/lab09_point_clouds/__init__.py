"""Checks of lab09_point_clouds (sets and point clouds): the graded modules are geometry.py
(distances, Chamfer, furthest point sampling, ball query, grouping) and pointnet.py (Deep
Sets, the T-Net and its regulariser, PointNet classification and part segmentation, part
mean IoU, attention pooling).

probes.py: brute-force geometry (scipy), the checks' stand-ins, the training probes.
public.py: geometry.py against scipy's distance matrices and KD-trees.
public_models.py: the layers (invariance, equivariance, values on fixed weights), the losses.
public_training.py: the classifier's train_step on the checks' stand-ins, and training.
readiness.py: XLA, mixed precision and retracing of the student's PointNetClassifier.
hidden.py: fresh sizes, and the student's whole PointNet trained against the reference.
"""
MODULES = ("geometry", "pointnet")
