"""Checks of lab08_gnn (graph neural networks): the graded module is gnn.py (the GCN
propagation matrix, disjoint-union batching, segment aggregation, the GCN, message-passing
and graph-network layers, a graph classifier, an interaction network and its rollout).

probes.py: the helpers the checks share (random graphs, permutations, the checks' own
aggregate with a known, different behaviour, graphs batched by networkx).
public.py: normalized_adjacency (against networkx), batch_graphs (against networkx's
disjoint union), aggregate (against a brute-force loop).
public_layers.py: GCNLayer, MessagePassing and GraphNetworkBlock on fixed random weights
(the layers that aggregate run on the checks' own aggregate), permutation equivariance and
invariance.
public_models.py: relative training checks: a GCN on a citation-like graph and on the karate
club, a graph classifier on cycles and trees.
public_dynamics.py: the interaction network (on the checks' own aggregate), rollout (with the
checks' own acceleration law), and a relative training check on n-body springs whose motion
is measured with scipy's solve_ivp.
hidden.py: fresh graphs and sizes, the layers with the student's own aggregate, against the
solution run live.
"""
MODULES = ("gnn",)
