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
        h = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
                     + self.bias)
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
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel) + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = ops.sigmoid(z_i)
        f = ops.sigmoid(z_f)
        o = ops.sigmoid(z_o)
        c_tilde = ops.tanh(z_c)
        c = f * c_prev + i * c_tilde
        h = o * ops.tanh(c)
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
        x_part = ops.matmul(inputs, self.kernel) + self.bias[0]
        h_part = ops.matmul(h_prev, self.recurrent_kernel) + self.bias[1]
        x_z, x_r, x_h = ops.split(x_part, 3, axis=-1)
        h_z, h_r, h_h = ops.split(h_part, 3, axis=-1)
        z = ops.sigmoid(x_z + h_z)
        r = ops.sigmoid(x_r + h_r)
        h_tilde = ops.tanh(x_h + r * h_h)
        h = z * h_prev + (1.0 - z) * h_tilde
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}
