"""Lab 6, part 1: recurrent cells. Fill in the parts marked TODO.

Each cell is a Keras RNN cell: a layer with a `state_size` whose `call(inputs, states)`
computes ONE time step and returns `(output, new_states)`. `keras.layers.RNN(cell)` runs it
over a whole sequence. The weights are laid out exactly as in Keras's own cells (same names,
shapes, order and gate order), so the checks copy Keras's weights into yours and compare:

    VanillaRNNCell  like keras.layers.SimpleRNNCell   kernel (D, U), recurrent_kernel (U, U),
                                                      bias (U,)
    LSTMCell        like keras.layers.LSTMCell        gates i, f, c, o: kernel (D, 4U),
                                                      recurrent_kernel (U, 4U), bias (4U,)
    GRUCell         like keras.layers.GRUCell         gates z, r, h, reset_after=True:
                    (the Keras default)               kernel (D, 3U), recurrent_kernel (U, 3U),
                                                      bias (2, 3U): row 0 input, row 1 recurrent

Shapes: N batch, D input features, U units. Activations are tanh, gates are sigmoids.
"""
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlkit_lab06_rnn")
class VanillaRNNCell(keras.layers.Layer):
    """h_t = tanh(x_t W + h_{t-1} U + b); the output is h_t."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(input_dim, self.units), name="kernel",
                                      initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                name="recurrent_kernel", initializer="orthogonal")
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")

    def call(self, inputs, states):
        """inputs: (N, D) one time step; states: [h_prev (N, U)] (Keras may pass a tensor).

        Returns (h, [h]): h (N, U)."""
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        pre = ops.add(ops.add(ops.dot(inputs, self.kernel), self.bias),
                      ops.dot(h_prev, self.recurrent_kernel))
        h = ops.tanh(pre)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="dlkit_lab06_rnn")
class LSTMCell(keras.layers.Layer):
    """The long short-term memory cell; state [h, c], output h.

        i, f, o = sigmoid(x W_g + h U_g + b_g)        input, forget, output gates
        c~      = tanh(x W_c + h U_c + b_c)           candidate memory
        c_t     = f * c_{t-1} + i * c~
        h_t     = o * tanh(c_t)

    The four blocks of kernel, recurrent_kernel and bias are in the order i, f, c, o.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(input_dim, 4 * self.units), name="kernel",
                                      initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units),
                                                name="recurrent_kernel", initializer="orthogonal")
        # The forget gate starts open (bias 1), so early training does not wipe the memory.
        forget_open = keras.initializers.Constant(
            [0.0] * self.units + [1.0] * self.units + [0.0] * (2 * self.units))
        self.bias = self.add_weight(shape=(4 * self.units,), name="bias", initializer=forget_open)

    def call(self, inputs, states):
        """inputs: (N, D); states: [h_prev (N, U), c_prev (N, U)].

        Returns (h, [h, c]): each (N, U)."""
        h_prev, c_prev = states[0], states[1]
        u = self.units
        z = ops.dot(inputs, self.kernel) + ops.dot(h_prev, self.recurrent_kernel) + self.bias
        input_gate = ops.sigmoid(z[:, :u])
        forget_gate = ops.sigmoid(z[:, u:2 * u])
        candidate = ops.tanh(z[:, 2 * u:3 * u])
        output_gate = ops.sigmoid(z[:, 3 * u:])
        c = forget_gate * c_prev + input_gate * candidate
        h = output_gate * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="dlkit_lab06_rnn")
class GRUCell(keras.layers.Layer):
    """The gated recurrent unit, with the reset gate applied AFTER the recurrent matmul
    (Keras's reset_after=True, the cuDNN variant); state [h], output h.

        z  = sigmoid(x W_z + b_z + h U_z + b'_z)            update gate
        r  = sigmoid(x W_r + b_r + h U_r + b'_r)            reset gate
        h~ = tanh(x W_h + b_h + r * (h U_h + b'_h))         candidate
        h_t = z * h_{t-1} + (1 - z) * h~

    b = bias[0] (input biases), b' = bias[1] (recurrent biases); blocks in the order z, r, h.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(input_dim, 3 * self.units), name="kernel",
                                      initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 3 * self.units),
                                                name="recurrent_kernel", initializer="orthogonal")
        self.bias = self.add_weight(shape=(2, 3 * self.units), name="bias", initializer="zeros")

    def call(self, inputs, states):
        """inputs: (N, D); states: [h_prev (N, U)] (Keras may pass a tensor).

        Returns (h, [h]): h (N, U)."""
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        u = self.units
        w, rw, b_in, b_rec = self.kernel, self.recurrent_kernel, self.bias[0], self.bias[1]
        z = ops.sigmoid(ops.dot(inputs, w[:, :u]) + b_in[:u] + ops.dot(h_prev, rw[:, :u]) + b_rec[:u])
        r = ops.sigmoid(ops.dot(inputs, w[:, u:2 * u]) + b_in[u:2 * u]
                        + ops.dot(h_prev, rw[:, u:2 * u]) + b_rec[u:2 * u])
        candidate = ops.tanh(ops.dot(inputs, w[:, 2 * u:]) + b_in[2 * u:]
                             + r * (ops.dot(h_prev, rw[:, 2 * u:]) + b_rec[2 * u:]))
        h = candidate + z * (h_prev - candidate)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}
