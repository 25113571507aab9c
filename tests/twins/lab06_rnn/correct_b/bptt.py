"""Lab 6, part 2: backpropagation through time and gradient clipping. Fill in the TODOs.

Unrolling a cell over T steps builds a T-layer deep network that shares its weights across
layers; the gradient of a loss at the last step reaches step t through T - t Jacobians
dh_{k+1}/dh_k. `state_gradient_norms` measures how its size changes with that distance, and
`clip_by_global_norm` is the usual guard against the opposite problem, exploding gradients.

Shapes: N batch, T time steps, D input features, U units.
"""
import tensorflow as tf


def unroll(cell, inputs, states):
    """Run an RNN cell over a sequence, one step at a time, in Python.

    cell: any Keras RNN cell (`cell(x_t, states)` returns (output, new_states));
    inputs: (N, T, D), T known when the function runs; states: the cell's initial states, a
    list (e.g. [h0] or [h0, c0], each (N, U)).
    Returns (outputs, states): outputs a Python list of T tensors (N, U), the output at each
    step (not stacked, so that gradients with respect to each step can be taken);
    states the list of final states.
    """
    outputs = []
    for x_t in tf.unstack(tf.convert_to_tensor(inputs), axis=1):
        output, states = cell(x_t, states)
        if not isinstance(states, (list, tuple)):
            states = [states]
        outputs.append(output)
    return outputs, list(states)


def state_gradient_norms(cell, inputs, states):
    """How much the last output depends on each earlier output: backpropagation through time.

    With L = sum of the last step's output h_T (over the batch and the units), returns norms:
    (T,), norms[t] = || dL / dh_t || (the Frobenius norm over (N, U)) for the output h_t of
    step t = 0 .. T-1. The last entry is sqrt(N * U); for a tanh RNN with small recurrent
    weights the earlier entries shrink geometrically (vanishing gradients).
    inputs: (N, T, D); states: the initial states, as for `unroll`.
    """
    with tf.GradientTape(persistent=True) as tape:
        outputs, _ = unroll(cell, inputs, states)
        total = tf.reduce_sum(outputs[-1])
    norms = [tf.sqrt(tf.reduce_sum(tape.gradient(total, h) ** 2)) for h in outputs]
    del tape
    return tf.convert_to_tensor(norms)


def global_norm(tensors):
    """sqrt of the sum of squares of every entry of every tensor: a scalar."""
    squares = [tf.norm(tf.reshape(tf.cast(t, tf.float32), [-1])) ** 2 for t in tensors]
    return tf.sqrt(tf.reduce_sum(tf.stack(squares)))


def clip_by_global_norm(gradients, max_norm):
    """Scale ALL gradients by the same factor so their global norm is at most max_norm.

    gradients: list of tensors (any shapes); max_norm: positive float.
    Returns (clipped, norm): the list of clipped tensors (same shapes, same direction as a
    whole) and the global norm before clipping. Gradients whose global norm is already below
    max_norm come back unchanged. (Like tf.clip_by_global_norm; Keras optimizers do it with
    `global_clipnorm=`.)
    """
    norm = global_norm(gradients)
    factor = tf.minimum(1.0, max_norm / norm)
    clipped = [tf.convert_to_tensor(g) * tf.cast(factor, tf.convert_to_tensor(g).dtype)
               for g in gradients]
    return clipped, norm
