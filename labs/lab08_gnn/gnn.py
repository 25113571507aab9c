"""Lab 08: graph neural networks. Fill in the parts marked TODO.

A graph is a dict of arrays (dlkit.data.graphs):

    x           (N, F) node features
    edge_index  (2, E) int: edge_index[0] the senders, edge_index[1] the receivers; an
                undirected edge appears once in each direction
    edge_attr   (E, A) edge features

A message of edge k goes from node edge_index[0, k] to node edge_index[1, k]. Node outputs
must be permutation EQUIVARIANT (renumber the nodes, and the outputs are renumbered the
same way); graph outputs permutation INVARIANT (renumbering changes nothing).

The pieces, in the order the handout builds them:

1. the GCN propagation matrix   normalized_adjacency (dense, numpy)
2. mini-batches of graphs       batch_graphs (one disjoint graph with a graph id per node)
3. aggregation                  aggregate (sum / mean / max over the incoming messages)
4. layers                       GCNLayer, MessagePassing, GraphNetworkBlock (with a global
                                attribute), InteractionNetwork (n-body dynamics), rollout
5. models                       GCN (node classification, given), GraphClassifier (graph
                                classification with a readout)

Shapes: N nodes, E edges, G graphs, F/A/U node/edge/global feature sizes.
"""
import keras
import numpy as np
import tensorflow as tf

REDUCTIONS = ("sum", "mean", "max")


# ---------------------------------------------------------------------------------------------
# 1-3. The propagation matrix, batching, aggregation
# ---------------------------------------------------------------------------------------------

def normalized_adjacency(edge_index, num_nodes):
    """The GCN propagation matrix A_hat = D^-1/2 (A + I) D^-1/2 (Kipf and Welling, 2017).

    edge_index: (2, E) ints, every undirected edge in both directions, no self-loops;
    A[r, s] = 1 when an edge goes from s to r (a repeated edge still counts once). I adds a
    self-loop to every node; D is the diagonal of the row sums of A + I (each degree plus
    one).
    Returns a_hat: float32 numpy (num_nodes, num_nodes), symmetric for an undirected graph.
    """
    edge_index = np.asarray(edge_index)
    # TODO: A from the edge index (A[receiver, sender] = 1), plus the identity; deg = row sums of A
    #       + I; scale row r and column c by 1 / sqrt(deg)
    raise NotImplementedError("fill in the TODO above")


def batch_graphs(graphs):
    """Several graphs as ONE graph: their disjoint union, as real GNN code batches them.

    graphs: a list of dicts with x (n_g, F), edge_index (2, e_g) and, optionally,
    edge_attr (e_g, A) (all graphs have it, or none), left unchanged. Returns a new dict:

        x           (sum n_g, F)  the node features, graph after graph
        edge_index  (2, sum e_g)  graph g's edges, its node numbers shifted by the number of
                                  nodes of the graphs before g
        edge_attr   (sum e_g, A)  (only when the graphs have it)
        graph_ids   (sum n_g,)    int32: which graph each node came from (0..G-1)
        num_graphs  G (an int)
    """
    # TODO: concatenate x (and edge_attr); add to each graph's edge_index the count of nodes before
    #       it (np.cumsum); graph_ids repeats g once per node of graph g
    raise NotImplementedError("fill in the TODO above")


def aggregate(messages, segment_ids, num_segments, reduction="sum"):
    """Reduce the rows of `messages` that share a segment id: the incoming messages of every
    node (segment_ids = the receivers), or the nodes of every graph (segment_ids = graph ids).

    messages: (M, D); segment_ids: (M,) ints in 0..num_segments-1; reduction: "sum", "mean"
    or "max". Returns (num_segments, D). A segment that receives nothing gets 0 whatever the
    reduction (tf.math.unsorted_segment_max gives the lowest float there: replace it).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    messages = tf.convert_to_tensor(messages)
    segment_ids = tf.convert_to_tensor(segment_ids)
    # TODO: tf.math.unsorted_segment_sum / _mean / _max with num_segments; for "max", put 0 where a
    #       segment received no message (count them with unsorted_segment_sum of ones)
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 4. Layers
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab08_gnn")
class GCNLayer(keras.layers.Layer):
    """A graph convolution: out = activation(a_hat @ x @ kernel + bias).

    GCNLayer(units, activation). call(x, a_hat): x (N, F) node features, a_hat (N, N) the
    propagation matrix (normalized_adjacency; any (N, N) matrix works). Row r of the output
    mixes the transformed features of the nodes that row r of a_hat weights.
    Returns (N, units).
    """

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        # TODO: add_weight a Glorot-uniform "kernel" of shape (F, units), then a zero "bias" of
        #       shape (units,), in that order
        raise NotImplementedError("fill in the TODO above")

    def call(self, x, a_hat):
        # TODO: transform every node (x @ kernel), then propagate with a_hat on the left, add the
        #       bias, apply the activation
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="dlkit_lab08_gnn")
class MessagePassing(keras.layers.Layer):
    """A message-passing layer with edge features (the 'MPNN' of Gilmer et al., 2017):

        message_k = message_net([x[sender_k], x[receiver_k], edge_attr_k])   (E, units)
        incoming  = aggregate(messages, receivers, N, reduction)              (N, units)
        out       = update_net([x, incoming])                                 (N, units)

    with [ ... ] a concatenation along the last axis, in that order. message_net and
    update_net are Dense(units, relu) layers, given.
    call(x, edge_index, edge_attr): x (N, F), edge_index (2, E), edge_attr (E, A).
    Returns (N, units).
    """

    def __init__(self, units, reduction="sum", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.reduction = reduction
        self.message_net = keras.layers.Dense(self.units, activation="relu", name="message")
        self.update_net = keras.layers.Dense(self.units, activation="relu", name="update")

    def build(self, x_shape, edge_index_shape, edge_attr_shape):
        features = x_shape[-1]
        self.message_net.build((None, 2 * features + edge_attr_shape[-1]))
        self.update_net.build((None, features + self.units))

    def call(self, x, edge_index, edge_attr):
        # TODO: gather the senders' and receivers' features (tf.gather), concatenate with edge_attr
        #       in that order, message_net; aggregate at the RECEIVERS over all N nodes; update_net
        #       on [x, incoming]
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "units": self.units, "reduction": self.reduction}


@keras.saving.register_keras_serializable(package="dlkit_lab08_gnn")
class GraphNetworkBlock(keras.layers.Layer):
    """A full graph-network block (Battaglia et al., 2018) on a batch of G graphs with a
    global attribute u per graph: edges first, then nodes, then the globals.

        e' = edge_net([edge_attr, x[sender], x[receiver], u[graph of the edge]])     (E, units)
        x' = node_net([x, aggregate(e', receivers, N, "sum"), u[graph of the node]]) (N, units)
        u' = global_net([u, aggregate(x', graph_ids, G, "mean"),
                            aggregate(e', graph of each edge, G, "mean")])           (G, units)

    The graph of an edge is the graph of its receiver. edge_net, node_net and global_net
    are Dense(units, relu) layers, given.
    call(x, edge_index, edge_attr, u, graph_ids): x (N, F), edge_index (2, E),
    edge_attr (E, A), u (G, U), graph_ids (N,). Returns (x', e', u').
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.edge_net = keras.layers.Dense(self.units, activation="relu", name="edge")
        self.node_net = keras.layers.Dense(self.units, activation="relu", name="node")
        self.global_net = keras.layers.Dense(self.units, activation="relu", name="global")

    def build(self, x_shape, edge_index_shape, edge_attr_shape, u_shape, graph_ids_shape):
        node_features, edge_features = x_shape[-1], edge_attr_shape[-1]
        global_features = u_shape[-1]
        self.edge_net.build((None, edge_features + 2 * node_features + global_features))
        self.node_net.build((None, node_features + self.units + global_features))
        self.global_net.build((None, global_features + 2 * self.units))

    def call(self, x, edge_index, edge_attr, u, graph_ids):
        num_graphs = tf.shape(u)[0]
        # TODO: edge update from [edge_attr, x_sender, x_receiver, u of the receiver's graph]; node
        #       update from [x, summed incoming e', u of the node's graph]; global update from [u,
        #       mean of x' per graph, mean of e' per graph]; return (x', e', u')
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="dlkit_lab08_gnn")
class InteractionNetwork(keras.layers.Layer):
    """An interaction network (Battaglia et al., 2016) that predicts the accelerations of
    bodies from their states and the relations between them:

        effect_k = relation_net([state[sender_k] - state[receiver_k], edge_attr_k])  (E, H)
        incoming = aggregate(effects, receivers, N, "sum")                            (N, H)
        acceleration = object_net([state[:, 2:], incoming])                          (N, 2)

    The relation sees only DIFFERENCES of states, and the object only its velocity: moving
    every body by the same amount changes nothing, as in physics. relation_net (two ReLU
    Dense(hidden) layers, then Dense(hidden)) and object_net (one ReLU Dense(hidden), then
    Dense(2)) are given.
    call(state, edge_index, edge_attr): state (N, 4) [x, y, vx, vy], edge_index (2, E),
    edge_attr (E, A). Returns accelerations (N, 2).
    """

    def __init__(self, hidden=64, **kwargs):
        super().__init__(**kwargs)
        self.hidden = int(hidden)
        self.relation_net = keras.Sequential(
            [keras.layers.Dense(self.hidden, activation="relu"),
             keras.layers.Dense(self.hidden, activation="relu"),
             keras.layers.Dense(self.hidden)], name="relation")
        self.object_net = keras.Sequential(
            [keras.layers.Dense(self.hidden, activation="relu"), keras.layers.Dense(2)],
            name="object")

    def build(self, state_shape, edge_index_shape, edge_attr_shape):
        self.relation_net.build((None, state_shape[-1] + edge_attr_shape[-1]))
        self.object_net.build((None, state_shape[-1] - 2 + self.hidden))

    def call(self, state, edge_index, edge_attr):
        # TODO: relation_net on [state of the sender - state of the receiver, edge_attr]; sum the
        #       effects at the receivers with aggregate; object_net on [velocities, incoming]
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}


def rollout(acceleration_fn, state, steps, dt):
    """Roll a system forward with semi-implicit (symplectic) Euler, the integrator of the
    data: per step, a = acceleration_fn(state); v <- v + dt a; THEN x <- x + dt v (the new v).
    Explicit Euler (x with the old v) gains energy every step and spirals out.

    acceleration_fn: state (N, 4) -> (N, 2) (a model with its graph bound, or the exact
    law); state (N, 4) [x, y, vx, vy]. Returns the trajectory (steps + 1, N, 4) as numpy,
    the initial state first.
    """
    state = np.asarray(state, np.float32)
    # TODO: per step: a from acceleration_fn(state) (as numpy); the new velocity from a, then the
    #       new position from the NEW velocity; collect every state
    raise NotImplementedError("fill in the TODO above")


# ---------------------------------------------------------------------------------------------
# 5. Models
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="dlkit_lab08_gnn")
class GCN(keras.Model):
    """A two-layer GCN for node classification (given): dropout, GCNLayer(hidden, relu),
    dropout, GCNLayer(num_classes). model([x, a_hat]) returns logits (N, num_classes).
    Train it full-batch on one graph: fit([x, a_hat], y, sample_weight=train_mask,
    batch_size=N, shuffle=False), so only the labelled nodes count in the loss."""

    def __init__(self, hidden=16, num_classes=2, dropout=0.5, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.num_classes, self.dropout_rate = int(hidden), int(num_classes), dropout
        self.drop_in = keras.layers.Dropout(dropout)
        self.drop_hidden = keras.layers.Dropout(dropout)
        self.gcn_1 = GCNLayer(self.hidden, activation="relu", name="gcn_1")
        self.gcn_2 = GCNLayer(self.num_classes, name="gcn_2")

    def call(self, inputs, training=False):
        x, a_hat = inputs
        h = self.gcn_1(self.drop_in(x, training=training), a_hat)
        return self.gcn_2(self.drop_hidden(h, training=training), a_hat)

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "num_classes": self.num_classes,
                "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="dlkit_lab08_gnn")
class GraphClassifier(keras.Model):
    """Graph classification: num_layers MessagePassing(units, "sum") layers, a readout that
    pools every graph's node states into one vector, and a Dense(num_classes) head.

    model(model_inputs(batch)), batch from batch_graphs (x, edge_index, edge_attr, graph_ids,
    num_graphs), returns logits (G, num_classes). The readout is aggregate(h, graph_ids, G,
    self.readout): sum by default (a mean cannot count, a sum can).
    """

    def __init__(self, units=32, num_layers=2, num_classes=2, readout="sum", **kwargs):
        super().__init__(**kwargs)
        self.units, self.num_layers = int(units), int(num_layers)
        self.num_classes, self.readout = int(num_classes), readout
        self.message_layers = [MessagePassing(self.units, "sum", name=f"mp_{i}")
                               for i in range(self.num_layers)]
        self.head = keras.layers.Dense(self.num_classes, name="head")

    def call(self, batch):
        h = tf.convert_to_tensor(batch["x"], tf.float32)
        edge_index = tf.convert_to_tensor(batch["edge_index"], tf.int32)
        edge_attr = tf.convert_to_tensor(batch["edge_attr"], tf.float32)
        # TODO: every message layer in turn on (h, edge_index, edge_attr); pool h per graph with
        #       aggregate(h, batch["graph_ids"], batch["num_graphs"], self.readout); head
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "units": self.units, "num_layers": self.num_layers,
                "num_classes": self.num_classes, "readout": self.readout}


def model_inputs(batch):
    """A batch of batch_graphs as the dict of arrays a Keras model takes (given): num_graphs
    becomes a 0-d int32 array, since Keras accepts only arrays and tensors as inputs."""
    inputs = {key: np.asarray(batch[key]) for key in ("x", "edge_index", "graph_ids")}
    inputs["edge_attr"] = np.asarray(batch["edge_attr"], np.float32)
    inputs["num_graphs"] = np.asarray(batch["num_graphs"], np.int32)
    return inputs


def fit_node_classifier(model, x, a_hat, y, train_mask, steps=100, learning_rate=1e-2,
                        epochs=1, callbacks=None):
    """Train a node classifier full-batch on one graph (given): `epochs` times `steps` Adam
    steps on the cross-entropy of the labelled nodes only (train_mask as the sample weight).
    Every step sees the whole graph; fit runs an epoch as `steps` copies of it, 25 per
    execution. Returns the loss history that fit logged (one value per epoch)."""
    import tensorflow as tf
    weights = np.asarray(train_mask, np.float32)
    data = tf.data.Dataset.from_tensors(
        ((np.asarray(x, np.float32), np.asarray(a_hat, np.float32)), np.asarray(y), weights))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=min(25, int(steps)))
    return model.fit(data.repeat(steps), epochs=epochs, callbacks=callbacks, shuffle=False,
                     verbose=0).history


def train_dynamics(model, states, accelerations, edge_index, edge_attr, steps=300,
                   batch_systems=16, learning_rate=3e-3, seed=0):
    """Train an InteractionNetwork on one-step targets (given): Adam on the mean squared
    error of the accelerations, `steps` steps, each on `batch_systems` random systems (from a
    np.random.default_rng(seed)) at one random time, put side by side as one disjoint graph.
    states (S, T, N, 4), accelerations (S, T, N, 2), edge_index (2, E) shared by the systems,
    edge_attr (S, E, A). The step is a tf.function: every batch has the same shapes.
    Returns the loss of every step."""
    rng = np.random.default_rng(seed)
    num_systems, num_times, n = states.shape[:3]
    offsets = (np.arange(batch_systems) * n)[:, None, None]
    batch_edges = np.concatenate(list(edge_index[None] + offsets), axis=1).astype(np.int32)
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step(state, target, edge_attr_batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(state, batch_edges, edge_attr_batch) - target))
        optimizer.apply(tape.gradient(loss, model.trainable_variables),
                        model.trainable_variables)
        return loss

    losses = []
    for _ in range(steps):
        systems = rng.choice(num_systems, size=batch_systems, replace=False)
        times = rng.integers(0, num_times, size=batch_systems)
        losses.append(float(step(states[systems, times].reshape(-1, 4),
                                 accelerations[systems, times].reshape(-1, 2),
                                 edge_attr[systems].reshape(-1, edge_attr.shape[-1]))))
    return losses


def train_graph_classifier(model, batches, epochs, learning_rate=1e-2):
    """Train `model` on a list of (batch, labels) pairs, batch from batch_graphs (given).

    Adam on the mean cross-entropy of every batch, `epochs` passes over the list in its
    order (the batches have different sizes, so this loop runs eagerly: no retracing).
    Returns the mean loss of each epoch."""
    optimizer = keras.optimizers.Adam(learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    history = []
    for _ in range(epochs):
        losses = []
        for batch, labels in batches:
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(model_inputs(batch)))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            losses.append(float(loss))
        history.append(float(np.mean(losses)))
    return history
