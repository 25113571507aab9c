"""Mutants of lab08_gnn: the mistakes students make in a first GNN.

The layer checks run MessagePassing and GraphNetworkBlock on the checks' own aggregate, and
the training checks build A_hat and batches with networkx, so a mistake in one function
breaks that function's checks only."""
from tests.mutants import Mutant

GNN = "gnn.py"

MUTANTS = [
    # The GCN's A_hat without self-loops: a node forgets its own features.
    Mutant("adjacency_without_self_loops", GNN,
           "    a += np.eye(num_nodes, dtype=np.float32)\n",
           "",
           breaks=("normalized_adjacency",), says="without its self-loop"),
    # D^-1 (A + I): a random-walk normalisation instead of the symmetric one.
    Mutant("adjacency_row_normalised", GNN,
           "return (inv_sqrt[:, None] * a * inv_sqrt[None, :]).astype(np.float32)",
           "return (a / a.sum(axis=1, keepdims=True)).astype(np.float32)",
           breaks=("normalized_adjacency",), says="row normalisation"),
    # Edges of every graph left unshifted: they all point at the first graph's nodes.
    Mutant("batch_edges_not_shifted", GNN,
           "np.asarray(g[\"edge_index\"]) + offset",
           "np.asarray(g[\"edge_index\"]) + 0 * offset",
           breaks=("batch_graphs",), says="not shifted"),
    # Graph ids counted per node instead of per graph.
    Mutant("batch_graph_ids_per_node", GNN,
           "\"graph_ids\": np.repeat(np.arange(len(graphs)), sizes).astype(np.int32),",
           "\"graph_ids\": np.arange(sum(sizes)).astype(np.int32),",
           breaks=("batch_graphs",), says="graph_ids"),
    # The max of an empty segment left at the lowest float.
    Mutant("aggregate_max_empty_not_zeroed", GNN,
           "return tf.where(counts > 0, largest, tf.zeros_like(largest))",
           "return largest",
           breaks=("aggregate",), says="receives no message"),
    # The mean divides by the number of segments, not by each segment's count.
    Mutant("aggregate_mean_over_all_segments", GNN,
           "return tf.math.unsorted_segment_mean(messages, segment_ids, num_segments)",
           "return tf.math.unsorted_segment_sum(messages, segment_ids, num_segments) / "
           "tf.cast(num_segments, messages.dtype)",
           breaks=("aggregate",), says="num_segments"),
    # a_hat applied on the right side / transposed.
    Mutant("gcn_a_hat_transposed", GNN,
           "return self.activation(tf.matmul(a_hat, transformed) + self.bias)",
           "return self.activation(tf.matmul(a_hat, transformed, transpose_a=True) + self.bias)",
           breaks=("gcn_layer",), says="transposed"),
    # The GCN layer never propagates: an MLP on each node alone.
    Mutant("gcn_ignores_a_hat", GNN,
           "return self.activation(tf.matmul(a_hat, transformed) + self.bias)",
           "return self.activation(transformed + self.bias)",
           breaks=("gcn_layer", "gcn_on_citation_graph"), says="ignores a_hat"),
    # Messages collected at the senders instead of the receivers.
    Mutant("messages_aggregated_at_senders", GNN,
           "incoming = aggregate(messages, receivers, tf.shape(x)[0], self.reduction)",
           "incoming = aggregate(messages, senders, tf.shape(x)[0], self.reduction)",
           breaks=("message_passing",), says="senders"),
    # The reduction chosen by the constructor is ignored.
    Mutant("message_passing_always_sums", GNN,
           "incoming = aggregate(messages, receivers, tf.shape(x)[0], self.reduction)",
           "incoming = aggregate(messages, receivers, tf.shape(x)[0], \"sum\")",
           breaks=("message_passing",), says="reduction"),
    # Sender and receiver features swapped in the message.
    Mutant("message_sender_receiver_swapped", GNN,
           "inputs = tf.concat([tf.gather(x, senders), tf.gather(x, receivers),",
           "inputs = tf.concat([tf.gather(x, receivers), tf.gather(x, senders),",
           breaks=("message_passing",), says="in that order"),
    # The global update sums the nodes instead of averaging them.
    Mutant("graph_network_global_sums_nodes", GNN,
           "[u, aggregate(new_nodes, graph_ids, num_graphs, \"mean\"),",
           "[u, aggregate(new_nodes, graph_ids, num_graphs, \"sum\"),",
           breaks=("graph_network_block",), says="reduction"),
    # The edge update reads the first graph's globals for every edge.
    Mutant("graph_network_globals_by_node_index", GNN,
           "tf.gather(u, edge_graph)], axis=-1))",
           "tf.gather(u, tf.zeros_like(edge_graph))], axis=-1))",
           breaks=("graph_network_block",), says="u\\[graph of the receiver\\]"),
    # The readout pools the whole batch into one vector: one prediction for all graphs.
    Mutant("readout_pools_the_whole_batch", GNN,
           "pooled = aggregate(h, batch[\"graph_ids\"], batch[\"num_graphs\"], self.readout)",
           "pooled = tf.reduce_sum(h, axis=0, keepdims=True)",
           breaks=("graph_classifier_on_cycles_and_trees", "permutation_symmetry"),
           says="one row per GRAPH"),
]

MUTANTS += [
    # Explicit Euler: the position moves with the old velocity.
    Mutant("rollout_explicit_euler", GNN,
           "position = state[:, :2] + dt * velocity",
           "position = state[:, :2] + dt * state[:, 2:]",
           breaks=("rollout",), says="explicit Euler"),
    # The relations read absolute states: moving every body changes the forces.
    Mutant("interaction_absolute_states", GNN,
           "difference = tf.gather(state, senders) - tf.gather(state, receivers)",
           "difference = tf.gather(state, senders) + 0 * tf.gather(state, receivers)",
           breaks=("interaction_network",), says="DIFFERENCES"),
    # The effects summed at the senders.
    Mutant("interaction_effects_at_senders", GNN,
           "incoming = aggregate(effects, receivers, tf.shape(state)[0], \"sum\")",
           "incoming = aggregate(effects, senders, tf.shape(state)[0], \"sum\")",
           breaks=("interaction_network",), says="senders"),
    # The object network reads the positions too: the model is no longer translation
    # invariant.
    Mutant("interaction_object_reads_positions", GNN,
           "return self.object_net(tf.concat([state[:, 2:], incoming], axis=-1))",
           "return self.object_net(tf.concat([state[:, :2], incoming], axis=-1))",
           breaks=("interaction_network",), says="velocity only"),
]

# Mistakes that a first review of the checks found them missing or misnaming.
MUTANTS += [
    # N taken as the largest receiver plus one: a last node that receives nothing is lost.
    Mutant("message_passing_count_from_receivers", GNN,
           "incoming = aggregate(messages, receivers, tf.shape(x)[0], self.reduction)",
           "incoming = aggregate(messages, receivers, tf.reduce_max(receivers) + 1, "
           "self.reduction)",
           breaks=("message_passing",), says="max\\(ids\\) \\+ 1"),
    # graph_ids left as np.repeat's int64, against the docstring's int32.
    Mutant("batch_graph_ids_int64", GNN,
           "\"graph_ids\": np.repeat(np.arange(len(graphs)), sizes).astype(np.int32),",
           "\"graph_ids\": np.repeat(np.arange(len(graphs)), sizes).astype(np.int64),",
           breaks=("batch_graphs",), says="expected int32"),
    # Every graph's edge_index shifted in place: the caller's graphs are changed.
    Mutant("batch_shifts_inputs_in_place", GNN,
           "\"edge_index\": np.concatenate([np.asarray(g[\"edge_index\"]) + offset",
           "\"edge_index\": np.concatenate([np.add(g[\"edge_index\"], offset, "
           "out=g[\"edge_index\"])",
           breaks=("batch_graphs",), says="in place"),
    # The readout fixed to a mean, whatever the constructor was given.
    Mutant("readout_always_mean", GNN,
           "pooled = aggregate(h, batch[\"graph_ids\"], batch[\"num_graphs\"], self.readout)",
           "pooled = aggregate(h, batch[\"graph_ids\"], batch[\"num_graphs\"], \"mean\")",
           breaks=("graph_classifier_readouts",), says="reduction='mean', expected 'sum'"),
    # The bias added before propagating: a_hat @ (x W + b).
    Mutant("gcn_bias_before_propagation", GNN,
           "return self.activation(tf.matmul(a_hat, transformed) + self.bias)",
           "return self.activation(tf.matmul(a_hat, transformed + self.bias))",
           breaks=("gcn_layer",), says="BEFORE propagating"),
    # A repeated edge counted twice in A.
    Mutant("adjacency_counts_repeated_edges", GNN,
           "a[edge_index[1], edge_index[0]] = 1.0",
           "np.add.at(a, (edge_index[1], edge_index[0]), 1.0)",
           breaks=("normalized_adjacency",), says="repeated edge twice"),
    # The mean as sum / count with no guard: 0/0 for an empty segment.
    Mutant("aggregate_mean_unguarded", GNN,
           "return tf.math.unsorted_segment_mean(messages, segment_ids, num_segments)",
           "return tf.math.unsorted_segment_sum(messages, segment_ids, num_segments) / "
           "tf.math.unsorted_segment_sum(tf.ones_like(messages), segment_ids, num_segments)",
           breaks=("aggregate",), says="0/0"),
    # One state array updated in place: every stored state is the last one.
    Mutant("rollout_states_aliased", GNN,
           "state = np.concatenate([position, velocity], axis=-1).astype(np.float32)",
           "state[:] = np.concatenate([position, velocity], axis=-1)",
           breaks=("rollout",), says="every stored state is the last one"),
]
