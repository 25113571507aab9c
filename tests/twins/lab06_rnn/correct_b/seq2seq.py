"""Lab 6, part 3: a sequence-to-sequence encoder-decoder that learns to reverse digit
sequences. Fill in the parts marked TODO.

The encoder GRU reads the source and hands its final state to the decoder GRU, which emits
the target one token at a time. In training the decoder reads the true previous token
(teacher forcing: its inputs are the targets shifted right by one, behind a START token);
at test time it reads its own previous prediction (greedy decoding).

Tokens: the digits 0..9 are themselves; START_TOKEN = 10; VOCAB_SIZE = 11.
Shapes: N batch, S source length, T target length, U units, V vocabulary size.
"""
import keras
import numpy as np
import tensorflow as tf

from dlkit.training import LossTrackers

NUM_DIGITS = 10
START_TOKEN = 10
VOCAB_SIZE = 11


def make_reverse_task(n, length, rng, num_digits=NUM_DIGITS):
    """n random digit sequences and their reversals: (sources, targets), both (n, length)
    int32, with digits in [0, num_digits)."""
    sources = rng.integers(0, num_digits, size=(n, length)).astype("int32")
    return sources, sources[:, ::-1].copy()


def shift_right(targets, start_token):
    """The decoder's inputs under teacher forcing: at step t it reads target t - 1.

    targets: (N, T) int. Returns (N, T) int32: start_token, then targets[:, :-1].
    Example: targets [[3, 1, 4]] -> [[START, 3, 1]].
    """
    targets = tf.convert_to_tensor(targets)
    return tf.pad(tf.cast(targets[:, :-1], tf.int32), [[0, 0], [1, 0]],
                  constant_values=int(start_token))


def sequence_loss(targets, logits):
    """Mean cross-entropy over every token of the batch, in nats, computed in float32.

    targets: (N, T) int; logits: (N, T, V). Returns a scalar."""
    logits = keras.ops.cast(logits, "float32")
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(targets, "int32"), logits=logits))


def token_accuracy(targets, logits):
    """The fraction of tokens whose most likely prediction is the target: a scalar."""
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.reduce_mean(tf.cast(tf.equal(predicted, tf.cast(targets, "int32")), "float32"))


@keras.saving.register_keras_serializable(package="dlkit_lab06_rnn")
class Seq2Seq(keras.Model):
    """GRU encoder-decoder with a shared embedding.

    call((source, decoder_inputs)) -> logits (N, T, V): the decoder starts from the encoder's
    final state and reads decoder_inputs (the shifted targets under teacher forcing).
    fit((sources, targets)) trains with teacher forcing; fit and evaluate log "loss" (nats
    per token) and "accuracy" (teacher-forced token accuracy).
    """

    def __init__(self, vocab_size=VOCAB_SIZE, start_token=START_TOKEN, embed_dim=16, units=64,
                 **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.start_token = vocab_size, start_token
        self.embed_dim, self.units = embed_dim, units
        self.embedding = keras.layers.Embedding(vocab_size, embed_dim)
        self.encoder = keras.layers.GRU(units, return_state=True)
        self.decoder = keras.layers.GRU(units, return_sequences=True, return_state=True)
        self.head = keras.layers.Dense(vocab_size)
        self.trackers = LossTrackers("loss", "accuracy")

    @property
    def metrics(self):
        return self.trackers.metrics

    def encode(self, source):
        """source: (N, S) int. Returns the encoder's final state (N, U)."""
        _, state = self.encoder(self.embedding(source))
        return state

    def decode(self, decoder_inputs, state):
        """decoder_inputs: (N, T) int; state: (N, U). Returns (logits (N, T, V), state)."""
        outputs, state = self.decoder(self.embedding(decoder_inputs), initial_state=state)
        return self.head(outputs), state

    def call(self, inputs):
        source, decoder_inputs = inputs
        logits, _ = self.decode(decoder_inputs, self.encode(source))
        return logits

    def train_step(self, data):
        """data: (sources (N, S), targets (N, T)). One teacher-forced gradient step."""
        source, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        teacher = shift_right(targets, self.start_token)
        with tf.GradientTape() as tape:
            logits = self((source, teacher), training=True)
            loss = sequence_loss(targets, logits)
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        grads = tape.gradient(scaled_loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return self.update_trackers(targets, logits, loss)

    def test_step(self, data):
        source, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        logits = self((source, shift_right(targets, self.start_token)))
        return self.update_trackers(targets, logits, sequence_loss(targets, logits))

    def update_trackers(self, targets, logits, loss):
        self.trackers.update(loss=loss, accuracy=token_accuracy(targets, logits))
        return self.trackers.results()

    def greedy_decode(self, source, length):
        """Decode without the targets: each step reads the previous step's most likely token.

        source: (N, S) int; length: the number of tokens to emit (a Python int).
        Returns (N, length) int32.
        """
        source = tf.convert_to_tensor(source)
        state = self.encode(source)
        previous = tf.ones_like(source[:, :1], dtype=tf.int32) * self.start_token
        steps = []
        for _ in range(int(length)):
            logits, state = self.decode(previous, state)
            best = keras.ops.cast(keras.ops.argmax(logits[:, -1, :], axis=-1), "int32")  # (N,)
            steps.append(best)
            previous = best[:, None]
        return tf.stack(steps, axis=1)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "start_token": self.start_token, "embed_dim": self.embed_dim,
                "units": self.units}


def sequence_accuracy(predictions, targets):
    """(token accuracy, whole-sequence accuracy) of (N, T) predictions, in numpy."""
    correct = np.asarray(predictions) == np.asarray(targets)
    return float(correct.mean()), float(correct.all(axis=1).mean())
