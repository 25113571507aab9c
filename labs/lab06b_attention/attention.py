"""Lab 6b, part 3: a sequence-to-sequence model with additive (Bahdanau) attention over a
bidirectional encoder. Fill in the parts marked TODO.

The encoder (a bidirectional GRU) gives one vector h_s per source position. At every
output step the decoder's state s_t scores each of them,

    e_(t,s) = v . tanh(h_s W1 + s_t W2)      (the additive score)

the scores of the real (unpadded) source positions go through a softmax over s, and the
context vector c_t = sum_s a_(t,s) h_s joins s_t to predict the next token.

Tokens: the digits 0..9, PLUS = 10, START = 11, END = 12, PAD = 13 (VOCAB_SIZE = 14).
Shapes: N batch, S source length, T target length, Dq query features, Dk key features,
A attention units, U units, V vocabulary size.
"""
import keras
import numpy as np
import tensorflow as tf
from keras import ops

START, END, PAD = 11, 12, 13
VOCAB_SIZE = 14


def lengths_to_mask(lengths, max_length):
    """Which source positions are real: lengths (N,) int, each in 0..max_length.

    Returns a boolean (N, max_length) mask, True at positions 0 .. lengths[i] - 1 of row i
    and False on the padding after them. TensorFlow/Keras ops (it runs inside fit)."""
    # TODO: compare the positions ops.arange(max_length) (a row) with the lengths (a column):
    #       position < length
    raise NotImplementedError("fill in the TODO above")


def additive_attention(query, keys, mask, w_query, w_keys, v):
    """Additive attention of every query over the keys.

    query: (N, T, Dq), the decoder's states; keys: (N, S, Dk), the encoder's outputs (they
    are also the values); mask: (N, S) bool, True at the source positions that may be
    attended (None: all of them); w_query: (Dq, A) (W2 above), w_keys: (Dk, A) (W1), v: (A,).
    Returns (context (N, T, Dk), weights (N, T, S)): weights[n, t] is the softmax over the
    source positions s of e_(t,s) = v . tanh(keys[n, s] @ w_keys + query[n, t] @ w_query),
    0 at masked positions and summing to 1 over the others; context[n, t] is
    sum_s weights[n, t, s] keys[n, s].
    Compute the scores and the softmax in float32 (the inputs may be float16 under mixed
    precision), and return both results in the keys' dtype.
    """
    # TODO: project: keys @ w_keys -> (N, 1, S, A), query @ w_query -> (N, T, 1, A); scores =
    #       tanh(their sum) @ v -> (N, T, S), in float32; masked positions get a large negative
    #       score (ops.where with mask[:, None, :]) before the softmax over the LAST axis (the
    #       source positions); context = weights @ keys
    raise NotImplementedError("fill in the TODO above")


@keras.saving.register_keras_serializable(package="dlkit_lab06b_attention")
class AdditiveAttention(keras.layers.Layer):
    """The weights of additive attention (W2 = w_query, W1 = w_keys, v) and a call that
    runs additive_attention: call(query, keys, mask) -> (context, weights)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, query_shape, keys_shape, mask_shape=None):
        init = keras.initializers.GlorotUniform()
        self.w_query = self.add_weight(shape=(query_shape[-1], self.units), initializer=init,
                                       name="w_query")
        self.w_keys = self.add_weight(shape=(keys_shape[-1], self.units), initializer=init,
                                      name="w_keys")
        self.v = self.add_weight(shape=(self.units,), initializer="random_normal", name="v")

    def call(self, query, keys, mask=None):
        return additive_attention(query, keys, mask, self.w_query, self.w_keys, self.v)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def teacher_forcing_inputs(targets, start_token=START):
    """The decoder's inputs under teacher forcing, in numpy: START, then targets[:, :-1]."""
    targets = np.asarray(targets, "int32")
    return np.concatenate([np.full((len(targets), 1), start_token, "int32"), targets[:, :-1]],
                          axis=1)


@keras.saving.register_keras_serializable(package="dlkit_lab06b_attention")
class AttentionSeq2Seq(keras.Model):
    """A bidirectional GRU encoder, a GRU decoder and (with use_attention) additive attention.

    call((source (N, S), decoder_inputs (N, T))) -> logits (N, T, V). The decoder starts from
    a projection of the encoder's final states [forward, backward]; at each step its output
    s_t, joined by the context vector c_t when use_attention is on, goes through the head.
    Without attention, the decoder knows the source only through its initial state.
    Padding (PAD) at the end of a source is masked out of the attention.
    Train it with compile(loss=SparseCategoricalCrossentropy(from_logits=True)) and
    fit((sources, teacher_forcing_inputs(targets)), targets).
    """

    def __init__(self, vocab_size=VOCAB_SIZE, embed_dim=16, units=32, attention_units=32,
                 use_attention=True, pad_token=PAD, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embed_dim, self.units = vocab_size, embed_dim, units
        self.attention_units, self.use_attention = attention_units, use_attention
        self.pad_token = pad_token
        self.embedding = keras.layers.Embedding(vocab_size, embed_dim)
        self.encoder = keras.layers.Bidirectional(
            keras.layers.GRU(units, return_sequences=True, return_state=True))
        self.bridge = keras.layers.Dense(units, activation="tanh")
        self.decoder = keras.layers.GRU(units, return_sequences=True, return_state=True)
        self.attention = AdditiveAttention(attention_units) if use_attention else None
        self.head = keras.layers.Dense(vocab_size)

    def encode(self, source):
        """source: (N, S) int. Returns (keys (N, S, 2U), mask (N, S), decoder state (N, U))."""
        keys, forward_state, backward_state = self.encoder(self.embedding(source))
        lengths = ops.sum(ops.cast(ops.not_equal(source, self.pad_token), "int32"), axis=1)
        mask = lengths_to_mask(lengths, ops.shape(source)[1])
        state = self.bridge(ops.concatenate([forward_state, backward_state], axis=-1))
        return keys, mask, state

    def decode(self, decoder_inputs, state, keys, mask):
        """Returns (logits (N, T, V), state (N, U), attention weights (N, T, S) or None)."""
        outputs, state = self.decoder(self.embedding(decoder_inputs), initial_state=state)
        weights = None
        if self.use_attention:
            context, weights = self.attention(outputs, keys, mask)
            outputs = ops.concatenate([outputs, ops.cast(context, outputs.dtype)], axis=-1)
        return self.head(outputs), state, weights

    def call(self, inputs):
        source, decoder_inputs = inputs
        keys, mask, state = self.encode(source)
        logits, _, _ = self.decode(decoder_inputs, state, keys, mask)
        return logits

    def attention_weights(self, source, decoder_inputs):
        """The attention weights (N, T, S) of the teacher-forced decoder, as numpy."""
        keys, mask, state = self.encode(source)
        return np.asarray(self.decode(decoder_inputs, state, keys, mask)[2])

    def greedy_decode(self, source, length, start_token=START):
        """(N, length) int32: each step reads the previous step's most likely token."""
        keys, mask, state = self.encode(source)
        tokens = tf.fill([tf.shape(source)[0], 1], tf.constant(start_token, "int32"))
        emitted = []
        for _ in range(length):
            logits, state, _ = self.decode(tokens, state, keys, mask)
            tokens = tf.cast(tf.argmax(logits, axis=2), "int32")   # (N, 1)
            emitted.append(tokens)
        return np.asarray(tf.concat(emitted, axis=1))

    def step_function(self, source):
        """For beam search over ONE source (1, S): (step, initial_state), where
        step(tokens (B,), states (B, U)) -> (log-probabilities (B, V), new states (B, U)),
        all numpy, and initial_state is (1, U)."""
        keys, mask, state = self.encode(source)

        def step(tokens, states):
            count = len(tokens)
            logits, new_states, _ = self.decode(
                np.asarray(tokens, "int32")[:, None], np.asarray(states, "float32"),
                ops.repeat(keys, count, axis=0), ops.repeat(mask, count, axis=0))
            logits = np.asarray(logits, "float64")[:, 0]
            logits -= logits.max(axis=-1, keepdims=True)
            log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
            return log_probs, np.asarray(new_states)
        return step, np.asarray(state)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim, "units": self.units,
                "attention_units": self.attention_units, "use_attention": self.use_attention,
                "pad_token": self.pad_token}
