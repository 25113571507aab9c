"""Stand-ins for lab07_transformers: check-defined pieces that a model-level check plugs into
the student's code, so that it judges that code alone. None of them is the lab's maths:

- the attention sublayer and the blocks have known behaviour that is NOT attention (a mean
  over the allowed keys, no scores, no softmax): the unit under test must call them, since
  they are its given sublayers; what the unit makes of them is compared with what the
  reference's unit makes of the same stand-ins;
- causal_mask and sample_next_token, which a correct student may also write inline, are
  library computations (keras.ops.tri; inverse-CDF sampling from keras.random.uniform);
- a MiniGPT whose logits follow a fixed rule, for next_token_loss and generate;
- a small model with a stand-in loss of known behaviour, for train_step (which must
  minimise self.next_token_loss, as its docstring says).

They run in the worker; this module imports numpy only at its top level (the grader imports
it too, for the rule model's numpy twin), and its Keras classes are made on first use.
"""
import functools

import numpy as np

from autograder.check_helpers import assign_random_weights


def masked_mean(tf, values, mask):
    """The mean of `values` (N, S, F) over the keys each query may see: (N, T, F) for a mask
    broadcasting to (N, T, S), or the plain mean over S (T = S) without a mask. Not
    attention: every allowed key gets the same weight, whatever the query."""
    length = tf.shape(values)[1]
    if mask is None:
        mask = tf.ones((length, length), tf.bool)
    allowed = tf.cast(tf.broadcast_to(tf.cast(mask, tf.bool),
                                      (tf.shape(values)[0], tf.shape(mask)[-2], length)),
                      values.dtype)
    counts = tf.maximum(tf.reduce_sum(allowed, axis=-1, keepdims=True), 1.0)
    return tf.matmul(allowed, values) / counts


@functools.cache
def standins():
    """(StandInAttention, StandInBlock).

    StandInAttention has the call signature of the lab's MultiHeadAttention:
        tanh(query Wq) + masked_mean(value Wv + key Wk)
    StandInBlock has the call signature of its TransformerBlock:
        x + tanh(masked_mean(x) W)
    Both accept a mask of shape (T, S), (1, T, S) or (N, T, S), and None."""
    import keras
    import tensorflow as tf

    class StandInAttention(keras.layers.Layer):
        def build(self, query_shape, value_shape=None, key_shape=None):
            value_shape = query_shape if value_shape is None else value_shape
            key_shape = value_shape if key_shape is None else key_shape
            width = query_shape[-1]
            self.wq = self.add_weight(shape=(width, width), name="wq")
            self.wv = self.add_weight(shape=(value_shape[-1], width), name="wv")
            self.wk = self.add_weight(shape=(key_shape[-1], width), name="wk")

        def call(self, query, value, key=None, attention_mask=None,
                 return_attention_scores=False, training=None):
            key = value if key is None else key
            return tf.tanh(query @ self.wq) + masked_mean(
                tf, value @ self.wv + key @ self.wk, attention_mask)

    class StandInBlock(keras.layers.Layer):
        def build(self, input_shape):
            width = input_shape[-1]
            self.w = self.add_weight(shape=(width, width), name="w")

        def call(self, x, attention_mask=None, training=None):
            return x + tf.tanh(masked_mean(tf, x, attention_mask) @ self.w)

    return StandInAttention, StandInBlock


def standin_blocks(rng, count, width, length):
    """`count` built StandInBlocks with random weights."""
    block_class = standins()[1]
    blocks = [block_class() for _ in range(count)]
    for block in blocks:
        block.build((None, length, width))
        assign_random_weights(block, rng, scale=0.5)
    return blocks


def with_blocks(model_class, blocks):
    """A subclass of the student's model class whose `blocks` are the given stand-ins from
    the start: the given __init__ runs the model once (with whatever `blocks` holds), and
    Keras locks a built model's layers, so they cannot be swapped afterwards. The blocks the
    given __init__ creates are dropped unused."""
    class WithStandInBlocks(model_class):
        @property
        def blocks(self):
            return blocks

        @blocks.setter
        def blocks(self, _unused):
            pass

    return WithStandInBlocks


def standin_causal_mask(length):
    """causal_mask from the library: the lower triangle of ones (eager calls only)."""
    import keras
    return keras.ops.tri(int(length), dtype="bool")


def standin_sample_next_token(logits, temperature=0.0, seed=None):
    """sample_next_token by inversion: one uniform draw per row (keras.random.uniform, so an
    int seed or a SeedGenerator works as in keras.random), the first token whose cumulative
    probability exceeds it."""
    import keras
    ops = keras.ops
    logits = ops.cast(logits, "float32")
    if temperature == 0:
        return ops.cast(ops.argmax(logits, axis=-1), "int32")
    cumulative = ops.cumsum(ops.softmax(logits / temperature, axis=-1), axis=-1)
    uniform = keras.random.uniform((ops.shape(logits)[0], 1), seed=seed)
    below = ops.sum(ops.cast(cumulative <= uniform, "int32"), axis=-1)
    return ops.minimum(below, ops.shape(logits)[-1] - 1)


# The rule model: next-token logits from a fixed rule, no weights. The favoured next token
# depends on the token at t, on the FIRST token of the context the model is given and on t,
# so reading another position, not cropping the context or cropping it wrongly all change
# the greedy continuation.
RULE_VOCAB, RULE_MAX_LENGTH, RULE_SHARPNESS = 7, 8, 3.0


def rule_next(tokens):
    """The token the rule model favours after each position of `tokens` (N, T), numpy."""
    tokens = np.asarray(tokens, dtype=np.int64)
    return (3 * tokens + tokens[:, :1] + np.arange(tokens.shape[1]) + 1) % RULE_VOCAB


def rule_logits_np(tokens):
    """(N, T, V) float64: sharpness * cos(2 pi (k - favoured) / V) over the tokens k."""
    k = np.arange(RULE_VOCAB)
    return RULE_SHARPNESS * np.cos(2 * np.pi * (k - rule_next(tokens)[..., None]) / RULE_VOCAB)


def rule_gpt(lab, *, half=False):
    """A subclass of the student's MiniGPT whose call is the rule model (float16 logits with
    `half`): MiniGPT.generate and next_token_loss are then judged on their own."""
    import tensorflow as tf

    class RuleGPT(lab.transformer.MiniGPT):
        def build(self, input_shape=None):
            pass   # the rule has no weights

        def call(self, tokens, training=None):
            tokens = tf.cast(tokens, tf.int32)
            length = tf.shape(tokens)[1]
            favoured = (3 * tokens + tokens[:, :1] + tf.range(length)[None, :] + 1) % RULE_VOCAB
            angle = (2 * np.pi / RULE_VOCAB) * tf.cast(
                tf.range(RULE_VOCAB)[None, None, :] - favoured[..., None], tf.float32)
            logits = RULE_SHARPNESS * tf.cos(angle)
            return tf.cast(logits, tf.float16) if half else logits

    return RuleGPT(RULE_VOCAB, RULE_MAX_LENGTH, d_model=8, num_heads=2, num_layers=1, mlp_dim=8)


def tiny_gpt(lab, rng):
    """A subclass of the student's MiniGPT whose call is a small causal model written here
    (token embedding, a running mean over the past, fixed sinusoidal positions, the given
    final_norm and head) and whose next_token_loss is a stand-in of known behaviour, not the
    lab's cross-entropy: the squared distance of the logits at t + 1 to 3 * one_hot(the
    token at t) (the PREVIOUS token), and as accuracy how often their argmax is that token.
    fit() then exercises the student's train_step alone, deterministically."""
    import tensorflow as tf

    vocab, length, width = 8, 12, 16
    angles = np.arange(length)[:, None] / 10.0 ** (np.arange(width) / width)
    positions = np.where(np.arange(width) % 2 == 0, np.sin(angles), np.cos(angles))

    class TinyGPT(lab.transformer.MiniGPT):
        def build(self, input_shape=None):
            pass   # its layers are built by the call in MiniGPT.__init__

        def call(self, tokens, training=None):
            embedded = self.token_embedding(tokens)
            steps = tf.cast(tf.range(1, tf.shape(tokens)[1] + 1), embedded.dtype)
            past = tf.cumsum(embedded, axis=1) / steps[None, :, None]
            here = tf.constant(positions.astype("float32"))[None, :tf.shape(tokens)[1]]
            return self.head(self.final_norm(embedded + past + tf.cast(here, embedded.dtype)))

        def next_token_loss(self, sequences):
            logits = tf.cast(self(sequences[:, 1:]), tf.float32)
            previous = tf.cast(sequences[:, :-1], tf.int32)
            loss = tf.reduce_mean(tf.square(logits - 3.0 * tf.one_hot(previous, vocab)))
            hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), previous)
            return loss, tf.reduce_mean(tf.cast(hits, tf.float32))

    model = TinyGPT(vocab, length, d_model=width, num_heads=2, num_layers=1, mlp_dim=8)
    assign_random_weights(model, rng, scale=0.3)
    return model
