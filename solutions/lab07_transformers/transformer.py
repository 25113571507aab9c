"""Lab 7: transformers. Fill in the parts marked TODO.

The pieces, in the order the handout builds them:

1. attention                      scaled_dot_product_attention, causal_mask, padding_mask
2. heads                          split_heads, merge_heads, MultiHeadAttention.call
3. positions                      sinusoidal_positional_encoding, LearnedPositionalEmbedding
4. the encoder block (pre-norm)   TransformerBlock.call
5. a causal decoder (mini-GPT)    MiniGPT: embed, decode, next_token_loss, train_step;
                                  sample_next_token, MiniGPT.generate
6. a Vision Transformer           PatchEmbedding, ClassToken, VisionTransformer.call

Shapes: N examples, T query positions, S key/value positions, D model width (d_model),
H heads, Dh = head_dim (the width of one head), V vocabulary size, P patches.
A mask is True (or 1) where attention is ALLOWED and False (or 0) where it is not.
"""
import math

import keras
import tensorflow as tf

from dlkit.training import LossTrackers, OneOptimizer

PACKAGE = "dlkit_lab07_transformers"
# What a masked score becomes before the softmax: exp(-1e9 - max) is exactly 0 in float32,
# and unlike -inf it cannot turn a fully masked row into NaN.
MASKED_SCORE = -1e9


# ---------------------------------------------------------------------------------------------
# 1. Scaled dot-product attention and its masks
# ---------------------------------------------------------------------------------------------

def scaled_dot_product_attention(query, key, value, mask=None):
    """softmax(query key^T / sqrt(d_k)) value, with masked positions given zero weight.

    query: (..., T, d_k); key: (..., S, d_k); value: (..., S, d_v); the leading axes (batch,
    heads) must match. mask: None, or booleans (or 0/1) that broadcast to (..., T, S):
    True where query t may attend to key s.
    The scores and the softmax are computed in float32, whatever the inputs' dtype (float16
    scores overflow, and float16 cannot hold MASKED_SCORE).
    Returns (output, weights): output (..., T, d_v) in value's dtype, weights (..., T, S) in
    float32, each row summing to 1 over the S keys.
    """
    # BEGIN SOLUTION scores = q k^T / sqrt(d_k), q and k cast to float32 first; masked scores -> MASKED_SCORE; softmax over the keys (last axis); weights @ value
    query, key = tf.cast(query, tf.float32), tf.cast(key, tf.float32)
    depth = tf.cast(tf.shape(query)[-1], tf.float32)
    scores = tf.matmul(query, key, transpose_b=True) / tf.sqrt(depth)
    if mask is not None:
        allowed = tf.cast(mask, tf.bool)
        scores = tf.where(allowed, scores, tf.constant(MASKED_SCORE, tf.float32))
    weights = tf.nn.softmax(scores, axis=-1)
    value = tf.convert_to_tensor(value)
    output = tf.matmul(tf.cast(weights, value.dtype), value)
    return output, weights
    # END SOLUTION


def causal_mask(length):
    """The mask of a causal (autoregressive) model: position t may attend to positions <= t.

    length: T (a Python int or a scalar tensor). Returns (T, T) bool, True on and below the
    diagonal: mask[t, s] = (s <= t).
    """
    # BEGIN SOLUTION lower triangle, diagonal included (tf.linalg.band_part or a comparison of index grids)
    positions = tf.range(length)
    return positions[None, :] <= positions[:, None]
    # END SOLUTION


def padding_mask(tokens, pad_id=0):
    """A key mask that hides padding: no query may attend to a position holding pad_id.

    tokens: (N, S) integer ids. Returns (N, 1, S) bool, True where tokens != pad_id; the
    middle axis of 1 broadcasts over the T queries.
    """
    # BEGIN SOLUTION tokens != pad_id, with a new axis for the queries
    return tf.not_equal(tokens, pad_id)[:, None, :]
    # END SOLUTION


# ---------------------------------------------------------------------------------------------
# 2. Multi-head attention
# ---------------------------------------------------------------------------------------------

def split_heads(x, num_heads):
    """(N, T, H * Dh) -> (N, H, T, Dh): one slice of Dh features per head, heads first.

    Feature h * Dh + j of position t goes to head h, position t, feature j.
    """
    # BEGIN SOLUTION reshape to (N, T, H, Dh), then move the head axis before the positions
    batch, length = tf.shape(x)[0], tf.shape(x)[1]
    head_dim = x.shape[-1] // num_heads
    x = tf.reshape(x, (batch, length, num_heads, head_dim))
    return tf.transpose(x, (0, 2, 1, 3))
    # END SOLUTION


def merge_heads(x):
    """The inverse of split_heads: (N, H, T, Dh) -> (N, T, H * Dh)."""
    # BEGIN SOLUTION move the positions back before the heads, then reshape
    x = tf.transpose(x, (0, 2, 1, 3))
    batch, length = tf.shape(x)[0], tf.shape(x)[1]
    return tf.reshape(x, (batch, length, x.shape[2] * x.shape[3]))
    # END SOLUTION


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention, the same function as keras.layers.MultiHeadAttention.

    Each head h attends with its own projections: q_h = query Wq_h, k_h = key Wk_h,
    v_h = value Wv_h (each Dh wide); the H head outputs are concatenated and projected back
    to the query's width D by Wo. The four projections are Dense layers (given):
    query_dense, key_dense, value_dense (D_in -> H * Dh) and output_dense (H * Dh -> D).

    call(query (N, T, D), value (N, S, D_v), key=None (defaults to value),
         attention_mask=None (broadcasts to (N, T, S)), return_attention_scores=False)
    Returns output (N, T, D), and with return_attention_scores also the weights (N, H, T, S).
    """

    def __init__(self, num_heads, head_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim = num_heads, head_dim
        width = num_heads * head_dim
        self.query_dense = keras.layers.Dense(width, name="query")
        self.key_dense = keras.layers.Dense(width, name="key")
        self.value_dense = keras.layers.Dense(width, name="value")
        self.output_dense = None  # its width is the query's, known in build

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        self.query_dense.build(query_shape)
        self.key_dense.build(key_shape)
        self.value_dense.build(value_shape)
        self.output_dense = keras.layers.Dense(query_shape[-1], name="attention_output")
        self.output_dense.build((*query_shape[:-1], self.num_heads * self.head_dim))

    def call(self, query, value, key=None, attention_mask=None, return_attention_scores=False):
        key = value if key is None else key
        # BEGIN SOLUTION project query/key/value, split_heads each, attention per head (an (N, T, S) mask needs a head axis, (N, 1, T, S); a (T, S) mask broadcasts as it is), merge_heads, output_dense; set output (N, T, D) and weights (N, H, T, S)
        q = split_heads(self.query_dense(query), self.num_heads)
        k = split_heads(self.key_dense(key), self.num_heads)
        v = split_heads(self.value_dense(value), self.num_heads)
        if attention_mask is not None:
            attention_mask = tf.expand_dims(tf.cast(attention_mask, tf.bool), axis=-3)
        heads, weights = scaled_dot_product_attention(q, k, v, attention_mask)
        output = self.output_dense(merge_heads(heads))
        # END SOLUTION
        if return_attention_scores:
            return output, weights
        return output

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim}


# ---------------------------------------------------------------------------------------------
# 3. Positions
# ---------------------------------------------------------------------------------------------

def sinusoidal_positional_encoding(length, depth):
    """The fixed encodings of "Attention is all you need", sines and cosines interleaved:

        PE[t, 2i]     = sin(t / 10000^(2i / depth))
        PE[t, 2i + 1] = cos(t / 10000^(2i / depth))        for i = 0 .. depth/2 - 1

    length: T positions; depth: D, even. Returns (T, D) float32.
    """
    # BEGIN SOLUTION angles t * 10000^(-2i/D) of shape (T, D/2); sin into the even columns, cos into the odd ones
    positions = tf.cast(tf.range(length), tf.float32)[:, None]
    frequencies = tf.exp(-math.log(10000.0) * tf.range(0, depth, 2, dtype=tf.float32) / depth)
    angles = positions * frequencies[None, :]
    # stack on a new last axis, then flatten it: sin_0, cos_0, sin_1, cos_1, ...
    return tf.reshape(tf.stack([tf.sin(angles), tf.cos(angles)], axis=-1), (length, depth))
    # END SOLUTION


@keras.saving.register_keras_serializable(package=PACKAGE)
class LearnedPositionalEmbedding(keras.layers.Layer):
    """Adds a learned vector per position: x[:, t] + position_embeddings[t].

    build creates position_embeddings (max_length, D), D the input width, initialised with
    N(0, 0.02^2). call(x (N, T, D)) with T <= max_length returns (N, T, D).
    """

    def __init__(self, max_length, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length

    def build(self, input_shape):
        # BEGIN SOLUTION self.position_embeddings = self.add_weight(...) of shape (max_length, input_shape[-1])
        self.position_embeddings = self.add_weight(
            shape=(self.max_length, input_shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="position_embeddings")
        # END SOLUTION

    def call(self, x):
        # BEGIN SOLUTION add the first T rows (T = tf.shape(x)[1]: the length may vary) to every example
        length = tf.shape(x)[1]
        return x + self.position_embeddings[None, :length]
        # END SOLUTION

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length}


# ---------------------------------------------------------------------------------------------
# 4. The transformer block (pre-norm)
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerBlock(keras.layers.Layer):
    """A pre-norm transformer block:

        h   = x + MHA(LN1(x), LN1(x), mask)
        out = h + FFN(LN2(h)),      FFN(u) = Dense(D)(gelu(Dense(mlp_dim)(u)))

    Sublayers (given): norm1, attention, norm2, mlp_hidden, mlp_output.
    call(x (N, T, D), attention_mask=None (broadcasts to (N, T, T))) returns (N, T, D).
    """

    def __init__(self, num_heads, head_dim, mlp_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim, self.mlp_dim = num_heads, head_dim, mlp_dim
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm1")
        self.attention = MultiHeadAttention(num_heads, head_dim, name="attention")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm2")
        self.mlp_hidden = keras.layers.Dense(mlp_dim, activation="gelu", name="mlp_hidden")
        self.mlp_output = None  # its width is the input's, known in build

    def build(self, input_shape):
        self.norm1.build(input_shape)
        self.attention.build(input_shape, input_shape)
        self.norm2.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_output = keras.layers.Dense(input_shape[-1], name="mlp_output")
        self.mlp_output.build((*input_shape[:-1], self.mlp_dim))

    def call(self, x, attention_mask=None):
        # BEGIN SOLUTION normalise BEFORE each sublayer; add each sublayer's output to its input (the residual stream)
        normed = self.norm1(x)
        x = x + self.attention(normed, normed, attention_mask=attention_mask)
        return x + self.mlp_output(self.mlp_hidden(self.norm2(x)))
        # END SOLUTION

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "mlp_dim": self.mlp_dim}


# ---------------------------------------------------------------------------------------------
# 5. A causal decoder: the mini-GPT
# ---------------------------------------------------------------------------------------------

def sample_next_token(logits, temperature=0.0, seed=None):
    """Choose one token per row from next-token logits.

    temperature 0: greedy, the argmax. temperature > 0: a draw from softmax(logits / T)
    (keras.random.categorical takes LOGITS). seed: an int or a keras.random.SeedGenerator.
    logits: (N, V). Returns (N,) int32.
    """
    # BEGIN SOLUTION argmax when temperature == 0, else keras.random.categorical(logits / temperature, 1, seed=seed)
    logits = tf.cast(logits, tf.float32)
    if temperature == 0:
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
    draws = keras.random.categorical(logits / temperature, 1, seed=seed, dtype="int32")
    return draws[:, 0]
    # END SOLUTION


@keras.saving.register_keras_serializable(package=PACKAGE)
class MiniGPT(OneOptimizer, keras.Model):
    """A decoder-only transformer language model.

    tokens (N, T) -> embed: token embedding + learned positions -> decode: num_layers
    TransformerBlocks under the causal mask, a final LayerNorm, a Dense head -> logits
    (N, T, V). logits[:, t] predicts the token at t + 1 from the tokens up to t.

    fit(sequences) trains on (N, T + 1) integer sequences: train_step feeds tokens[:, :-1]
    and predicts tokens[:, 1:]. Trackers: "loss" (mean next-token cross-entropy, nats) and
    "accuracy" (next-token argmax accuracy).
    """

    def __init__(self, vocab_size, max_length, d_model=32, num_heads=2, num_layers=2,
                 mlp_dim=64, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_length, self.d_model = vocab_size, max_length, d_model
        self.num_heads, self.num_layers, self.mlp_dim = num_heads, num_layers, mlp_dim
        self.token_embedding = keras.layers.Embedding(vocab_size, d_model, name="tokens")
        self.position_embedding = LearnedPositionalEmbedding(max_length, name="positions")
        self.blocks = [TransformerBlock(num_heads, d_model // num_heads, mlp_dim,
                                        name=f"block{i}") for i in range(num_layers)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.head = keras.layers.Dense(vocab_size, name="head")
        self.trackers = LossTrackers("loss", "accuracy")
        # fit() never calls the model when train_step is overridden, and an unbuilt model
        # saves without its weights: build it here, on a dummy batch of the longest length.
        self(tf.zeros((1, max_length), tf.int32))

    @property
    def metrics(self):
        return self.trackers.metrics

    def embed(self, tokens):
        """tokens (N, T) ints -> (N, T, D): token embeddings plus position embeddings."""
        # BEGIN SOLUTION token_embedding, then position_embedding
        return self.position_embedding(self.token_embedding(tokens))
        # END SOLUTION

    def decode(self, hidden):
        """hidden (N, T, D) -> logits (N, T, V), position t seeing only positions <= t."""
        # BEGIN SOLUTION one causal_mask(T) for every block (T = tf.shape(hidden)[1]); then final_norm and head
        mask = causal_mask(tf.shape(hidden)[1])
        for block in self.blocks:
            hidden = block(hidden, attention_mask=mask)
        return self.head(self.final_norm(hidden))
        # END SOLUTION

    def call(self, tokens):
        return self.decode(self.embed(tokens))

    def next_token_loss(self, sequences):
        """sequences (N, T + 1) ints -> (loss, accuracy): the mean cross-entropy (nats) of
        predicting sequences[:, 1:] from sequences[:, :-1], and the argmax accuracy. Both
        float32 scalars, computed in float32 whatever the model's compute dtype."""
        # BEGIN SOLUTION inputs = sequences[:, :-1], targets = sequences[:, 1:]; logits cast to float32; sparse cross-entropy from logits, averaged over every position
        inputs, targets = sequences[:, :-1], sequences[:, 1:]
        logits = keras.ops.cast(self(inputs), "float32")
        losses = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32),
                                tf.cast(targets, tf.int32)), tf.float32)
        return tf.reduce_mean(losses), tf.reduce_mean(hits)
        # END SOLUTION

    def train_step(self, data):
        sequences = data[0] if isinstance(data, tuple) else data
        # BEGIN SOLUTION next_token_loss under a GradientTape; scale_loss before tape.gradient; optimizer.apply; self.trackers.update(loss=..., accuracy=...)
        with tf.GradientTape() as tape:
            loss, accuracy = self.next_token_loss(sequences)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.trackers.update(loss=loss, accuracy=accuracy)
        # END SOLUTION
        return self.trackers.results()

    def test_step(self, data):
        sequences = data[0] if isinstance(data, tuple) else data
        loss, accuracy = self.next_token_loss(sequences)
        self.trackers.update(loss=loss, accuracy=accuracy)
        return self.trackers.results()

    def generate(self, prompt, num_tokens, temperature=0.0, seed=None):
        """Extend each prompt by num_tokens tokens, one at a time, feeding back each choice.

        prompt: (N, T0) ints. temperature/seed: as in sample_next_token (0: greedy).
        The model sees at most the last max_length tokens. Returns (N, T0 + num_tokens) int32,
        the prompt followed by the new tokens.
        """
        tokens = tf.cast(tf.convert_to_tensor(prompt), tf.int32)
        seed = keras.random.SeedGenerator(seed) if isinstance(seed, int) else seed
        for _ in range(num_tokens):
            # BEGIN SOLUTION context = the last max_length tokens; logits of its LAST position; sample_next_token; append the choice to tokens
            context = tokens[:, -self.max_length:]
            logits = self(context)[:, -1, :]
            chosen = sample_next_token(logits, temperature, seed)
            tokens = tf.concat([tokens, chosen[:, None]], axis=1)
            # END SOLUTION
        return tokens

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "max_length": self.max_length, "d_model": self.d_model,
                "num_heads": self.num_heads, "num_layers": self.num_layers,
                "mlp_dim": self.mlp_dim}


# ---------------------------------------------------------------------------------------------
# 6. A Vision Transformer
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchEmbedding(keras.layers.Layer):
    """Cut an image into non-overlapping patch_size x patch_size patches and map each to a
    d_model vector: one Conv2D with kernel = stride = patch_size (given: self.projection),
    whose output grid is flattened row by row into a sequence.

    images (N, H, W, C), H and W multiples of patch_size.
    Returns (N, P, d_model), P = (H / p) * (W / p); patch (i, j) of the grid is item i * (W/p) + j.
    """

    def __init__(self, patch_size, d_model, **kwargs):
        super().__init__(**kwargs)
        self.patch_size, self.d_model = patch_size, d_model
        self.projection = keras.layers.Conv2D(d_model, patch_size, strides=patch_size,
                                              padding="valid", name="projection")

    def build(self, input_shape):
        self.projection.build(input_shape)

    def call(self, images):
        # BEGIN SOLUTION the strided convolution gives (N, H/p, W/p, d_model); reshape to (N, P, d_model)
        grid = self.projection(images)
        batch = tf.shape(grid)[0]
        return tf.reshape(grid, (batch, grid.shape[1] * grid.shape[2], self.d_model))
        # END SOLUTION

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "d_model": self.d_model}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ClassToken(keras.layers.Layer):
    """Prepend one learned vector (the class token) to every sequence.

    build creates token (1, 1, D), initialised to zeros. call(x (N, P, D)) returns
    (N, 1 + P, D) with out[:, 0] = token and out[:, 1:] = x.
    """

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), initializer="zeros",
                                     name="class_token")

    def call(self, x):
        # BEGIN SOLUTION tile the token over the batch (tf.shape(x)[0]) and concatenate it before x on the sequence axis
        batch = tf.shape(x)[0]
        tokens = tf.tile(tf.cast(self.token, x.dtype), (batch, 1, 1))
        return tf.concat([tokens, x], axis=1)
        # END SOLUTION


@keras.saving.register_keras_serializable(package=PACKAGE)
class VisionTransformer(OneOptimizer, keras.Model):
    """A small ViT classifier:

        patches = PatchEmbedding(images); x = ClassToken(patches); x = positions(x);
        x = blocks(x) (no mask: every patch sees every patch); logits = head(final_norm(x[:, 0]))

    images (N, image_size, image_size, channels) -> logits (N, num_classes).
    Trained with the ordinary compile(loss=..., metrics=...) / fit.
    """

    def __init__(self, image_size, patch_size, num_classes, channels=1, d_model=32,
                 num_heads=2, num_layers=2, mlp_dim=64, **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.patch_size, self.num_classes = image_size, patch_size, num_classes
        self.channels, self.d_model, self.num_heads = channels, d_model, num_heads
        self.num_layers, self.mlp_dim = num_layers, mlp_dim
        num_patches = (image_size // patch_size) ** 2
        self.patch_embedding = PatchEmbedding(patch_size, d_model, name="patches")
        self.class_token = ClassToken(name="class_token")
        self.position_embedding = LearnedPositionalEmbedding(1 + num_patches, name="positions")
        self.blocks = [TransformerBlock(num_heads, d_model // num_heads, mlp_dim,
                                        name=f"block{i}") for i in range(num_layers)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.head = keras.layers.Dense(num_classes, name="head")
        self(tf.zeros((1, image_size, image_size, channels)))  # build: the weights exist now

    def call(self, images):
        # BEGIN SOLUTION patch_embedding, class_token, position_embedding, the blocks; classify from the class token (position 0)
        x = self.position_embedding(self.class_token(self.patch_embedding(images)))
        for block in self.blocks:
            x = block(x)
        return self.head(self.final_norm(x[:, 0]))
        # END SOLUTION

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size,
                "patch_size": self.patch_size, "num_classes": self.num_classes,
                "channels": self.channels, "d_model": self.d_model,
                "num_heads": self.num_heads, "num_layers": self.num_layers,
                "mlp_dim": self.mlp_dim}
