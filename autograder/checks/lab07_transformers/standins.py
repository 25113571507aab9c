"""Stand-ins for lab07_transformers: check-defined pieces with known behaviour that a
model-level check plugs into the student's code, so that it judges that code alone: an
attention sublayer and blocks, causal_mask and sample_next_token, a MiniGPT whose logits
follow a fixed rule, and a small causal MiniGPT for train_step.

They run in the worker; this module imports numpy only at its top level (the grader imports
it too, for the rule model's numpy twin), and its Keras classes are made on first use.
"""
import contextlib
import functools

import numpy as np

from autograder.check_helpers import assign_random_weights


def full_mask(tf, mask, batch, queries, keys):
    """A mask given in any of the shapes the lab allows, as (N, T, S) booleans."""
    return tf.broadcast_to(tf.cast(mask, tf.bool), (batch, queries, keys))


def masked_attention(tf, query, key, value, mask):
    """One head of attention written here, the mask any shape that broadcasts to (N, T, S)."""
    scores = tf.matmul(query, key, transpose_b=True) / np.sqrt(float(query.shape[-1]))
    if mask is not None:
        allowed = full_mask(tf, mask, tf.shape(query)[0], tf.shape(query)[1], tf.shape(key)[1])
        scores = tf.where(allowed, scores, -1e9)
    return tf.matmul(tf.nn.softmax(scores, axis=-1), value)


@functools.cache
def standins():
    """(StandInAttention, StandInBlock): a one-head attention layer with the call signature
    of the lab's MultiHeadAttention, and a residual attention block with the call signature
    of its TransformerBlock. Both accept a mask of shape (T, S), (1, T, S) or (N, T, S)."""
    import keras
    import tensorflow as tf

    class StandInAttention(keras.layers.Layer):
        def build(self, query_shape, value_shape=None, key_shape=None):
            value_shape = query_shape if value_shape is None else value_shape
            width, value_width = query_shape[-1], value_shape[-1]
            self.wq = self.add_weight(shape=(width, width), name="wq")
            self.wk = self.add_weight(shape=(value_width, width), name="wk")
            self.wv = self.add_weight(shape=(value_width, width), name="wv")

        def call(self, query, value, key=None, attention_mask=None,
                 return_attention_scores=False, training=None):
            key = value if key is None else key
            return masked_attention(tf, query @ self.wq, key @ self.wk, value @ self.wv,
                                    attention_mask)

    class StandInBlock(keras.layers.Layer):
        def build(self, input_shape):
            width = input_shape[-1]
            self.wq, self.wk, self.wv = (self.add_weight(shape=(width, width), name=name)
                                         for name in ("wq", "wk", "wv"))

        def call(self, x, attention_mask=None, training=None):
            return x + tf.tanh(masked_attention(tf, x @ self.wq, x @ self.wk, x @ self.wv,
                                                attention_mask))

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


@contextlib.contextmanager
def replaced(module, name, value):
    """module.name is `value` inside the block: a function of the student's module that the
    unit under test calls, replaced by a check-defined one with the same contract."""
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def standin_functions():
    """Check-defined causal_mask and sample_next_token, with the docstrings' contracts."""
    import keras
    import tensorflow as tf

    def causal_mask(length):
        positions = tf.range(length)
        return positions[None, :] <= positions[:, None]

    def sample_next_token(logits, temperature=0.0, seed=None):
        logits = tf.cast(logits, tf.float32)
        if temperature == 0:
            return tf.argmax(logits, axis=-1, output_type=tf.int32)
        return keras.random.categorical(logits / temperature, 1, seed=seed, dtype="int32")[:, 0]

    return {"causal_mask": causal_mask, "sample_next_token": sample_next_token}


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
    final_norm and head) and whose next_token_loss is written here too: fit() then exercises
    the student's train_step alone, deterministically."""
    import keras
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
            logits = tf.cast(self(sequences[:, :-1]), tf.float32)
            targets = tf.cast(sequences[:, 1:], tf.int32)
            losses = keras.losses.sparse_categorical_crossentropy(targets, logits,
                                                                  from_logits=True)
            hits = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), targets)
            return tf.reduce_mean(losses), tf.reduce_mean(tf.cast(hits, tf.float32))

    model = TinyGPT(vocab, length, d_model=width, num_heads=2, num_layers=1, mlp_dim=8)
    assign_random_weights(model, rng, scale=0.3)
    return model
