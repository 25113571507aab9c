"""Lab 6b, part 2: bidirectional and stacked recurrent encoders. Fill in the parts marked
TODO.

A bidirectional encoder runs one RNN forwards and another backwards over the source, so
that the vector it gives position t describes the whole sequence, before and after t.
Stacked, each layer reads the whole output sequence of the layer below.

Shapes: N batch, S source length, D input features, U units per direction.
"""
import keras
from keras import ops


def bidirectional(forward, backward, inputs):
    """The combination keras.layers.Bidirectional computes (merge_mode="concat"), by hand.

    forward, backward: two recurrent layers built with return_sequences=True and
    return_state=True (neither with go_backwards), each returning (outputs (N, S, U),
    final state (N, U)) as keras.layers.GRU does. inputs: (N, S, D).
    Returns (outputs (N, S, 2U), state (N, 2U)):
    - outputs[:, t] = [forward's output at t, backward's output at t], where the backward
      RNN reads the source from its last position to its first, and its output at t is the
      one it gave after reading x_(S-1), ..., x_t (so its outputs are flipped back in time);
    - state = [forward's final state, backward's final state] (the backward RNN's final
      state is the one it reached after reading x_0).
    """
    # BEGIN SOLUTION run forward on inputs; run backward on the inputs flipped in time
    #   (ops.flip on axis 1) and flip its outputs back; concatenate the outputs on the last
    #   axis, and the two final states, forward first
    forward_outputs, forward_state = forward(inputs)
    backward_outputs, backward_state = backward(ops.flip(inputs, axis=1))
    outputs = ops.concatenate([forward_outputs, ops.flip(backward_outputs, axis=1)], axis=-1)
    return outputs, ops.concatenate([forward_state, backward_state], axis=-1)
    # END SOLUTION


@keras.saving.register_keras_serializable(package="dlkit_lab06b_attention")
class StackedBiEncoder(keras.layers.Layer):
    """num_layers bidirectional GRU layers, each reading the whole output sequence of the
    one below (the first reads the inputs).

    call(inputs (N, S, D)) -> (outputs (N, S, 2U), states): outputs is the top layer's
    output sequence; states is a list of num_layers tensors (N, 2U), bottom layer first,
    each [forward final state, backward final state] of that layer.
    """

    def __init__(self, units, num_layers=2, **kwargs):
        super().__init__(**kwargs)
        self.units, self.num_layers = units, num_layers
        self.bi_layers = [
            keras.layers.Bidirectional(
                keras.layers.GRU(units, return_sequences=True, return_state=True),
                name=f"bidirectional_{i}")
            for i in range(num_layers)]

    def call(self, inputs):
        # BEGIN SOLUTION x = inputs; for each layer in self.bi_layers: x, forward_state,
        #   backward_state = layer(x) (the next layer reads the whole sequence x); keep
        #   ops.concatenate([forward_state, backward_state], -1); return (x, the list of
        #   states)
        states, x = [], inputs
        for layer in self.bi_layers:
            x, forward_state, backward_state = layer(x)
            states.append(ops.concatenate([forward_state, backward_state], axis=-1))
        return x, states
        # END SOLUTION

    def get_config(self):
        return {**super().get_config(), "units": self.units, "num_layers": self.num_layers}
