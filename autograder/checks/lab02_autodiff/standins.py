"""The check's own stand-ins for the engine's machinery, so that a check of one unit runs the
student's code on known pieces and a mistake elsewhere in the engine does not cost that
unit's points. None of them is the reference's code:

- `summed_to` stands in for `unbroadcast`: TensorFlow sums the gradient back, as the
  gradient of `tf.broadcast_to` (an independent library computation).
- `creation_order` stands in for `topological_order` on a graph the probe built: the probe
  made every node after its parents, so the order in which it made them is already a valid
  one; no search.
- `ancestors` (which nodes an output depends on) is scipy's breadth-first search.

The jacobian checks' stand-in for `backward` lives with their f in probes.jacobian_probe: it
knows f's one-op tape and takes f's VJP from TensorFlow.
"""
import numpy as np


def summed_to(grad, shape):
    """`grad` summed back to `shape`, the shape it was broadcast from, by TensorFlow's
    gradient of tf.broadcast_to. A gradient already of that shape comes back as it is (the
    same array, as the skeleton's unbroadcast does); one that does not broadcast from
    `shape` comes back as it is too, so the verdict reports its shape."""
    shape = tuple(shape)
    if np.shape(grad) == shape:
        return grad
    import tensorflow as tf
    grad = np.asarray(grad, dtype=np.float64)
    try:
        if np.broadcast_shapes(shape, grad.shape) != grad.shape:
            return grad
    except ValueError:
        return grad
    source = tf.zeros(shape, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(source)
        stretched = tf.broadcast_to(source, grad.shape)
    return tape.gradient(stretched, source, output_gradients=tf.constant(grad)).numpy()


def ancestors(parents, output):
    """Every node `output` depends on, itself included: the nodes scipy's breadth-first
    search reaches from it along parent edges. parents: node k's parents, by index."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order
    edges = [(k, p) for k, mine in enumerate(parents) for p in mine]
    count = len(parents)
    rows = [k for k, _ in edges]
    cols = [p for _, p in edges]
    graph = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(count, count)).tocsr()
    reached = breadth_first_order(graph, output, directed=True, return_predecessors=False)
    return {int(k) for k in reached}


def creation_order(nodes, parents):
    """A stand-in for topological_order on the graph the probe built (nodes[k] has the
    parents parents[k], all of lower index): the output's ancestors in the order the probe
    made them."""
    position = {id(node): k for k, node in enumerate(nodes)}

    def topological_order(output):
        return [nodes[k] for k in sorted(ancestors(parents, position[id(output)]))]
    return topological_order
