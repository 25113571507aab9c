"""Lab 7b: the encoder-decoder transformer, BERT-style pretraining and key/value caching.
Fill in the parts marked TODO.

The pieces, in the order the handout builds them:

0. the data (given)                numbers in English words -> their digits
1. multi-head attention            MultiHeadAttention.project_keys_values, .attend
2. the post-norm blocks            EncoderBlock.call, DecoderBlock.call
3. the encoder-decoder             Encoder.call, Transformer.decode, Transformer.greedy_decode
4. key/value caching               DecoderBlock.step, Transformer.decode_step
5. BERT-style pretraining          mask_tokens, masked_lm_loss, SentenceClassifier.call

Shapes: N examples, S source positions, T target (decoder) positions, D model width
(d_model), H heads, Dh = head_dim, V a vocabulary's size.
A mask is True where attention is ALLOWED and False where it is not.
"""
import math

import keras
import numpy as np
import tensorflow as tf

PACKAGE = "dlkit_lab07b_encoder_decoder"

# ---------------------------------------------------------------------------------------------
# 0. The data (given): numbers in English words -> their digits
# ---------------------------------------------------------------------------------------------

UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORDS = UNITS + TENS + ["hundred", "thousand"]

# Source (word) ids: PAD, MASK (for BERT), then the words.
PAD, MASK, FIRST_WORD = 0, 1, 2
SOURCE_VOCAB = FIRST_WORD + len(WORDS)
# Target (digit) ids: PAD, BOS (begin), EOS (end), then the digits 0..9.
BOS, EOS, FIRST_DIGIT = 1, 2, 3
TARGET_VOCAB = FIRST_DIGIT + 10
# The label of a position the masked-LM loss ignores.
IGNORE = -1


def number_to_words(number):
    """0 <= number < 1_000_000 in English words, without "and": 342 -> three hundred forty two."""
    if number >= 1000:
        words = number_to_words(number // 1000) + ["thousand"]
        return words + (number_to_words(number % 1000) if number % 1000 else [])
    words = []
    if number >= 100:
        words += [UNITS[number // 100], "hundred"]
        number %= 100
        if number == 0:
            return words
    if number >= 20:
        words.append(TENS[number // 10 - 2])
        if number % 10:
            words.append(UNITS[number % 10])
    else:
        words.append(UNITS[number])
    return words


def numbers_to_pairs(numbers, source_length, target_length):
    """Sources (n, source_length): word ids padded with PAD; targets (n, target_length): the
    digit ids, then EOS, padded with PAD."""
    sources = np.full((len(numbers), source_length), PAD, "int32")
    targets = np.full((len(numbers), target_length), PAD, "int32")
    for row, number in enumerate(numbers):
        words = [FIRST_WORD + WORDS.index(w) for w in number_to_words(int(number))]
        digits = [FIRST_DIGIT + int(d) for d in str(int(number))] + [EOS]
        sources[row, :len(words)] = words
        targets[row, :len(digits)] = digits
    return sources, targets


def lengths_for(high):
    """The longest source (words) and target (digits + EOS) for the numbers below `high`."""
    source = max(len(number_to_words(n)) for n in range(max(0, high - 1200), high))
    return source, len(str(high - 1)) + 1


def make_translation_pairs(count, rng, high=1000):
    """`count` numbers drawn uniformly from 0 .. high - 1 by `rng` (a numpy Generator), as
    (sources, targets) padded to the longest of that range (lengths_for(high))."""
    return numbers_to_pairs(rng.integers(0, high, size=count), *lengths_for(high))


def teacher_forcing_inputs(targets):
    """The decoder's inputs under teacher forcing: BOS, then the targets shifted right by one
    (position t reads the target token t - 1 and predicts token t)."""
    targets = np.asarray(targets)
    return np.concatenate([np.full((len(targets), 1), BOS, targets.dtype), targets[:, :-1]], 1)


def make_grammaticality_task(count, rng, high=1000):
    """A labelled task from the same language: (sentences (count, S), labels (count,)).
    Label 1: a number's words as generated; label 0 (half of them, drawn by `rng`): the same
    with one word replaced by another word, so that the sentence is no number's words
    ("three hundred hundred two", "forty twelve")."""
    valid = {tuple(number_to_words(n)) for n in range(high)}
    numbers = rng.integers(0, high, size=count)
    labels = (rng.random(count) < 0.5).astype("int32")
    sources, _ = numbers_to_pairs(numbers, *lengths_for(high))
    for row in np.flatnonzero(labels == 0):
        length = int((sources[row] != PAD).sum())
        while True:
            candidate = sources[row].copy()
            candidate[rng.integers(length)] = FIRST_WORD + rng.integers(len(WORDS))
            words = tuple(WORDS[i - FIRST_WORD] for i in candidate[:length])
            if words not in valid:
                sources[row] = candidate
                break
    return sources, labels


def padding_mask(tokens):
    """(N, S) token ids -> (N, 1, S) bool, False at PAD: no query attends to padding."""
    return tf.expand_dims(tf.not_equal(tokens, PAD), axis=1)


def causal_mask(length):
    """(T, T) bool, True where key s <= query t: a position sees itself and the past."""
    return tf.linalg.band_part(tf.ones((length, length)), -1, 0) > 0


def stop_at_eos(tokens):
    """(N, T) decoded ids, numpy int32, with PAD after each row's first EOS."""
    tokens = np.array(tokens, dtype="int32")
    ended = np.cumsum(tokens == EOS, axis=1) - (tokens == EOS) > 0
    tokens[ended] = PAD
    return tokens


# ---------------------------------------------------------------------------------------------
# 1. Multi-head attention
# ---------------------------------------------------------------------------------------------

MASKED_SCORE = -1e9   # exp(MASKED_SCORE - max) is exactly 0 in float32


def attention(query, key, value, mask=None):
    """Scaled dot-product attention (given: lab 7 builds it).

    query (..., T, Dh), key (..., S, Dh), value (..., S, Dh); mask None or booleans that
    broadcast to (..., T, S). The scores and the softmax in float32.
    Returns (output (..., T, Dh) in value's dtype, weights (..., T, S) float32).
    """
    q32, k32 = tf.cast(query, tf.float32), tf.cast(key, tf.float32)
    scores = tf.einsum("...td,...sd->...ts", q32, k32) * (1.0 / math.sqrt(q32.shape[-1]))
    if mask is not None:
        scores = tf.where(tf.cast(mask, tf.bool), scores, MASKED_SCORE)
    probabilities = tf.nn.softmax(scores)
    return tf.einsum("...ts,...sd->...td", tf.cast(probabilities, value.dtype), value), \
        probabilities


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention of a query sequence over a context sequence, with the weights laid
    out as keras.layers.MultiHeadAttention lays them out (given in build):

        query_kernel (D, H, Dh), query_bias (H, Dh)      the queries, from `query`
        key_kernel (Dc, H, Dh), key_bias (H, Dh)         the keys, from `context`
        value_kernel (Dc, H, Dh), value_bias (H, Dh)     the values, from `context`
        output_kernel (H, Dh, D), output_bias (D,)       the heads back to the query's width

    Self-attention: context = query. Cross-attention: the query comes from the decoder, the
    context is the encoder's output (its "memory").
    call(query (N, T, D), context (N, S, Dc), attention_mask=None, return_weights=False) is
    given: project_keys_values(context), then attend(query, keys, values, attention_mask).
    """

    def __init__(self, num_heads, head_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim = num_heads, head_dim

    def build(self, query_shape, context_shape=None):
        context_shape = query_shape if context_shape is None else context_shape
        heads = (self.num_heads, self.head_dim)
        width, context_width = query_shape[-1], context_shape[-1]
        self.query_kernel = self.add_weight(shape=(width, *heads), name="query_kernel")
        self.query_bias = self.add_weight(shape=heads, initializer="zeros", name="query_bias")
        self.key_kernel = self.add_weight(shape=(context_width, *heads), name="key_kernel")
        self.key_bias = self.add_weight(shape=heads, initializer="zeros", name="key_bias")
        self.value_kernel = self.add_weight(shape=(context_width, *heads), name="value_kernel")
        self.value_bias = self.add_weight(shape=heads, initializer="zeros", name="value_bias")
        self.output_kernel = self.add_weight(shape=(*heads, width), name="output_kernel")
        self.output_bias = self.add_weight(shape=(width,), initializer="zeros",
                                           name="output_bias")

    def project_keys_values(self, context):
        """context (N, S, Dc) -> (keys, values), each (N, H, S, Dh), heads before positions:
        keys[n, h, s] = context[n, s] @ key_kernel[:, h] + key_bias[h], values likewise."""
        # TODO: tf.einsum("nsc,chd->nhsd", context, kernel) + the bias (H, Dh) broadcast as (1, H,
        #       1, Dh), for the keys and for the values
        raise NotImplementedError("fill in the TODO above")

    def attend(self, query, keys, values, attention_mask=None, return_weights=False):
        """The queries of `query` (N, T, D) attend over given keys and values (N, H, S, Dh),
        each head on its own, with the given `attention` function; the heads' outputs go
        through output_kernel and output_bias back to width D.

        attention_mask: None, or booleans broadcasting to (N, T, S) (a padding mask (N, 1, S),
        a causal mask (T, T)): the same for every head. Returns output (N, T, D), and with
        return_weights also the weights (N, H, T, S).
        """
        # TODO: project the queries to (N, H, T, Dh) (einsum with query_kernel, plus query_bias);
        #       give the mask a head axis (expand at axis -3: (N, 1, S) -> (N, 1, 1, S), (T, T) ->
        #       (1, T, T)); attention(...); einsum with output_kernel, plus output_bias
        raise NotImplementedError("fill in the TODO above")
        if return_weights:
            return output, weights
        return output

    def call(self, query, context, attention_mask=None, return_weights=False):
        keys, values = self.project_keys_values(context)
        return self.attend(query, keys, values, attention_mask, return_weights)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim}


# ---------------------------------------------------------------------------------------------
# 2. The blocks of the original transformer (post-norm)
# ---------------------------------------------------------------------------------------------

def _feed_forward(mlp_dim, name):
    return keras.layers.Dense(mlp_dim, activation="relu", name=f"{name}_hidden")


@keras.saving.register_keras_serializable(package=PACKAGE)
class EncoderBlock(keras.layers.Layer):
    """An encoder block of "Attention is all you need", POST-norm:

        h   = norm1(x + attention(x, x, attention_mask=padding_mask))
        out = norm2(h + mlp_output(mlp_hidden(h)))          (mlp_hidden: Dense + ReLU)

    Sublayers (given): attention, norm1, mlp_hidden, mlp_output, norm2.
    call(x (N, S, D), padding_mask=None (N, 1, S)) returns (N, S, D).
    """

    def __init__(self, num_heads, head_dim, mlp_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim, self.mlp_dim = num_heads, head_dim, mlp_dim
        self.attention = MultiHeadAttention(num_heads, head_dim, name="attention")
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm1")
        self.mlp_hidden = _feed_forward(mlp_dim, "mlp")
        self.mlp_output = None   # its width is the input's, known in build
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm2")

    def build(self, input_shape):
        self.attention.build(input_shape, input_shape)
        self.norm1.build(input_shape)
        self.mlp_hidden.build(input_shape)
        self.mlp_output = keras.layers.Dense(input_shape[-1], name="mlp_output")
        self.mlp_output.build((*input_shape[:-1], self.mlp_dim))
        self.norm2.build(input_shape)

    def call(self, x, padding_mask=None):
        # TODO: post-norm: add each sublayer's output to its input, THEN normalise the sum (norm1
        #       after the attention, norm2 after the MLP)
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "mlp_dim": self.mlp_dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DecoderBlock(keras.layers.Layer):
    """A decoder block of "Attention is all you need", POST-norm, three sublayers:

        h1  = norm1(x + self_attention(x, x, attention_mask=causal_mask(T)))       position t sees <= t
        h2  = norm2(h1 + cross_attention(h1, memory, attention_mask=source_mask))  reads the source
        out = norm3(h2 + mlp_output(mlp_hidden(h2)))

    Sublayers (given): self_attention, norm1, cross_attention, norm2, mlp_hidden, mlp_output,
    norm3. call(x (N, T, D), memory (N, S, D), source_mask=None (N, 1, S)) returns (N, T, D).
    step(...) is the same for one new position with a key/value cache (section 4).
    """

    def __init__(self, num_heads, head_dim, mlp_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim, self.mlp_dim = num_heads, head_dim, mlp_dim
        self.self_attention = MultiHeadAttention(num_heads, head_dim, name="self_attention")
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm1")
        self.cross_attention = MultiHeadAttention(num_heads, head_dim, name="cross_attention")
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm2")
        self.mlp_hidden = _feed_forward(mlp_dim, "mlp")
        self.mlp_output = None
        self.norm3 = keras.layers.LayerNormalization(epsilon=1e-5, name="norm3")

    def build(self, x_shape, memory_shape=None):
        memory_shape = x_shape if memory_shape is None else memory_shape
        self.self_attention.build(x_shape, x_shape)
        self.cross_attention.build(x_shape, memory_shape)
        for norm in (self.norm1, self.norm2, self.norm3):
            norm.build(x_shape)
        self.mlp_hidden.build(x_shape)
        self.mlp_output = keras.layers.Dense(x_shape[-1], name="mlp_output")
        self.mlp_output.build((*x_shape[:-1], self.mlp_dim))

    def call(self, x, memory, source_mask=None):
        # TODO: causal self-attention (attention_mask=causal_mask(T), T = tf.shape(x)[1]), then
        #       cross-attention over memory (attention_mask=source_mask), then the MLP; each
        #       post-norm
        raise NotImplementedError("fill in the TODO above")

    def step(self, x, cache, memory, source_mask=None):
        """One new decoder position with a key/value cache: the same function as call, for
        the last position only, without recomputing the earlier positions.

        x (N, 1, D): the new position's input. cache: {"keys", "values"}, each (N, H, t, Dh),
        the self-attention keys and values of the t positions before it (t = 0 at the start:
        see Transformer.start_cache). Returns (out (N, 1, D), the cache with this position's
        keys and values appended: (N, H, t + 1, Dh)).
        """
        # TODO: self_attention.project_keys_values(x), appended to the cache's (tf.concat on the
        #       position axis, 2); the new position attends over ALL of them (self_attention.attend,
        #       no mask: they are its past and itself); then the cross-attention and the MLP as in
        #       call
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "mlp_dim": self.mlp_dim}


# ---------------------------------------------------------------------------------------------
# 3. The encoder-decoder
# ---------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package=PACKAGE)
class Encoder(keras.layers.Layer):
    """The encoder: token embeddings plus learned position embeddings, then num_layers
    EncoderBlocks, every one under the padding mask of the tokens.

    Sublayers (given): token_embedding, position_embedding (one row per position), blocks.
    call(tokens (N, S) ids, PAD = padding) returns (N, S, D). The outputs at real positions
    do not depend on what is at the padded ones.
    """

    def __init__(self, vocab_size, max_length, d_model=32, num_heads=2, num_layers=1,
                 mlp_dim=64, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_length, self.d_model = vocab_size, max_length, d_model
        self.num_heads, self.num_layers, self.mlp_dim = num_heads, num_layers, mlp_dim
        self.token_embedding = keras.layers.Embedding(vocab_size, d_model, name="tokens")
        self.position_embedding = keras.layers.Embedding(max_length, d_model, name="positions")
        self.blocks = [EncoderBlock(num_heads, d_model // num_heads, mlp_dim, name=f"block{i}")
                       for i in range(num_layers)]

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        self.position_embedding.build((None,))
        for block in self.blocks:
            block.build((*input_shape, self.d_model))

    def call(self, tokens):
        # TODO: token_embedding(tokens) + position_embedding(tf.range(S)); every block with
        #       padding_mask=padding_mask(tokens)
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "max_length": self.max_length, "d_model": self.d_model,
                "num_heads": self.num_heads, "num_layers": self.num_layers,
                "mlp_dim": self.mlp_dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Transformer(keras.Model):
    """The encoder-decoder transformer: source words -> target digits.

    call((source (N, S), target_in (N, T))) -> logits (N, T, TARGET_VOCAB): the encoder reads
    the source once (its output is the "memory"), the decoder reads target_in = BOS + the
    targets shifted right (teacher forcing) and predicts the target token at every position.
    Trained with the ordinary compile(loss=...) / fit((source, target_in), targets).
    """

    def __init__(self, max_source_length, max_target_length, d_model=32, num_heads=2,
                 num_layers=1, mlp_dim=64, **kwargs):
        super().__init__(**kwargs)
        self.max_source_length, self.max_target_length = max_source_length, max_target_length
        self.d_model, self.num_heads, self.num_layers = d_model, num_heads, num_layers
        self.mlp_dim = mlp_dim
        self.encoder = Encoder(SOURCE_VOCAB, max_source_length, d_model, num_heads, num_layers,
                               mlp_dim, name="encoder")
        self.target_embedding = keras.layers.Embedding(TARGET_VOCAB, d_model, name="targets")
        self.target_positions = keras.layers.Embedding(max_target_length, d_model,
                                                       name="target_positions")
        self.decoder_blocks = [DecoderBlock(num_heads, d_model // num_heads, mlp_dim,
                                            name=f"decoder{i}") for i in range(num_layers)]
        self.head = keras.layers.Dense(TARGET_VOCAB, name="head")
        self((tf.zeros((1, max_source_length), tf.int32),
              tf.zeros((1, max_target_length), tf.int32)))   # build: the weights exist now

    def encode(self, source):
        """source (N, S) -> (memory (N, S, D), source_mask (N, 1, S))."""
        return self.encoder(source), padding_mask(source)

    def embed_target(self, tokens, start=0):
        """tokens (N, T) at positions start .. start + T - 1 -> (N, T, D)."""
        positions = tf.range(start, start + tf.shape(tokens)[1])
        return self.target_embedding(tokens) + self.target_positions(positions)[None]

    def decode(self, target_in, memory, source_mask):
        """target_in (N, T), memory (N, S, D), source_mask (N, 1, S) -> logits (N, T, V):
        embed_target, every decoder block, then the head."""
        # TODO: embed_target(target_in); each decoder block(hidden, memory, source_mask); head
        raise NotImplementedError("fill in the TODO above")

    def call(self, inputs):
        source, target_in = inputs
        memory, source_mask = self.encode(source)
        return self.decode(target_in, memory, source_mask)

    def greedy_decode(self, source, max_length):
        """Greedy decoding without a cache: encode once; start from BOS; at every step run
        decode on ALL the tokens so far, take the argmax of the LAST position's logits and
        append it. Returns (N, max_length) int32 numpy, the tokens after BOS, with PAD after
        each row's first EOS (stop_at_eos)."""
        # TODO: memory, source_mask = self.encode(source); tokens = a column of BOS; max_length
        #       times: logits = decode(tokens, ...)[:, -1], append the argmax (int32);
        #       stop_at_eos(tokens[:, 1:])
        raise NotImplementedError("fill in the TODO above")

    # -----------------------------------------------------------------------------------------
    # 4. Key/value caching
    # -----------------------------------------------------------------------------------------

    def start_cache(self, batch_size):
        """One empty cache per decoder block: keys and values of shape (N, H, 0, Dh)."""
        empty = tf.zeros((batch_size, self.num_heads, 0, self.d_model // self.num_heads),
                         self.compute_dtype)
        return [{"keys": empty, "values": empty} for _ in self.decoder_blocks]

    def decode_step(self, token, step, caches, memory, source_mask):
        """One decoder position with caches: token (N,) ids at position `step`; caches, one
        per decoder block, hold the positions 0 .. step - 1. Returns (logits (N, V) of the
        next token: the same as decode(all tokens up to step)[:, -1], the caches with
        position `step` appended)."""
        # TODO: embed_target(token[:, None], start=step); each block's step(hidden, its cache,
        #       memory, source_mask); the head; return the logits (N, V) and the new caches in block
        #       order
        raise NotImplementedError("fill in the TODO above")

    def greedy_decode_cached(self, source, max_length):
        """greedy_decode with key/value caches (given): one decode_step per new token."""
        memory, source_mask = self.encode(source)
        batch = int(memory.shape[0])
        caches, token, chosen = self.start_cache(batch), tf.fill((batch,), BOS), []
        for step in range(max_length):
            logits, caches = self.decode_step(token, step, caches, memory, source_mask)
            token = tf.argmax(logits, axis=-1, output_type=tf.int32)
            chosen.append(token)
        return stop_at_eos(tf.stack(chosen, axis=1))

    def get_config(self):
        return {**super().get_config(), "max_source_length": self.max_source_length,
                "max_target_length": self.max_target_length, "d_model": self.d_model,
                "num_heads": self.num_heads, "num_layers": self.num_layers,
                "mlp_dim": self.mlp_dim}


# ---------------------------------------------------------------------------------------------
# 5. BERT-style pretraining: the masked language model, then fine-tuning
# ---------------------------------------------------------------------------------------------

def mask_tokens(tokens, rng, rate=0.15):
    """BERT's masking of a batch of sentences, in numpy, every draw from `rng`.

    tokens: (N, S) word ids, PAD = padding. Each real (non-PAD) position is CHOSEN on its
    own with probability `rate` (PAD never). A chosen position's input becomes MASK with
    probability 0.8, a word drawn uniformly from the words (FIRST_WORD .. SOURCE_VOCAB - 1:
    never PAD or MASK) with probability 0.1, and stays unchanged with probability 0.1.
    Returns (inputs (N, S) int32: the tokens with those replacements, labels (N, S) int32:
    the ORIGINAL token at the chosen positions, IGNORE everywhere else).
    """
    # TODO: chosen = (rng.random(shape) < rate) & (tokens != PAD); a second rng.random(shape) picks
    #       MASK (< 0.8), a random word (0.8 .. 0.9) or unchanged; random words from
    #       rng.integers(FIRST_WORD, SOURCE_VOCAB, shape)
    raise NotImplementedError("fill in the TODO above")


def masked_lm_loss(labels, logits):
    """The masked-LM loss: the mean cross-entropy (nats) of the original tokens at the CHOSEN
    positions only (labels != IGNORE), over all chosen positions of the batch.

    labels: (N, S) ids or IGNORE (Keras may pass them as floats: cast to int32);
    logits: (N, S, V), float16 under mixed precision. Returns a float32 scalar, computed in
    float32 (0 when nothing is chosen).
    """
    # TODO: labels to int32; chosen = labels != IGNORE; the sparse cross-entropy from float32
    #       logits, with the IGNORE labels replaced by any valid id (0) first; sum over chosen /
    #       max(count, 1)
    raise NotImplementedError("fill in the TODO above")


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedLanguageModel(keras.Model):
    """BERT's pretraining model (given): an Encoder and a head predicting every position's
    word: Dense(D, gelu), LayerNorm, Dense(SOURCE_VOCAB). call(tokens (N, S)) -> logits
    (N, S, SOURCE_VOCAB). Trained with compile(loss=masked_lm_loss) / fit(inputs, labels)
    on mask_tokens' output."""

    def __init__(self, max_length, d_model=32, num_heads=2, num_layers=1, mlp_dim=64,
                 **kwargs):
        super().__init__(**kwargs)
        self.max_length, self.d_model, self.num_heads = max_length, d_model, num_heads
        self.num_layers, self.mlp_dim = num_layers, mlp_dim
        self.encoder = Encoder(SOURCE_VOCAB, max_length, d_model, num_heads, num_layers,
                               mlp_dim, name="encoder")
        self.transform = keras.layers.Dense(d_model, activation="gelu", name="transform")
        self.transform_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="mlm_norm")
        self.vocabulary = keras.layers.Dense(SOURCE_VOCAB, name="vocabulary")
        self(tf.zeros((1, max_length), tf.int32))

    def call(self, tokens):
        return self.vocabulary(self.transform_norm(self.transform(self.encoder(tokens))))

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length,
                "d_model": self.d_model, "num_heads": self.num_heads,
                "num_layers": self.num_layers, "mlp_dim": self.mlp_dim}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SentenceClassifier(keras.Model):
    """A sentence classifier on an Encoder: the MEAN of the encoder's outputs over the real
    (non-PAD) positions of each sentence, then a Dense head.

    call(tokens (N, S)) -> logits (N, num_classes). Sublayers (given): encoder, head.
    Fine-tuning copies a pretrained encoder's weights into `encoder` (transfer_encoder).
    """

    def __init__(self, max_length, num_classes=2, d_model=32, num_heads=2, num_layers=1,
                 mlp_dim=64, **kwargs):
        super().__init__(**kwargs)
        self.max_length, self.num_classes, self.d_model = max_length, num_classes, d_model
        self.num_heads, self.num_layers, self.mlp_dim = num_heads, num_layers, mlp_dim
        self.encoder = Encoder(SOURCE_VOCAB, max_length, d_model, num_heads, num_layers,
                               mlp_dim, name="encoder")
        self.head = keras.layers.Dense(num_classes, name="head")
        self(tf.zeros((1, max_length), tf.int32))

    def call(self, tokens):
        # TODO: hidden = encoder(tokens); weights = 1 at real positions, 0 at PAD; the weighted sum
        #       over positions / the number of real positions (at least 1); head
        raise NotImplementedError("fill in the TODO above")

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length,
                "num_classes": self.num_classes, "d_model": self.d_model,
                "num_heads": self.num_heads, "num_layers": self.num_layers,
                "mlp_dim": self.mlp_dim}


def transfer_encoder(pretrained, classifier):
    """Copy the pretrained model's encoder weights into the classifier's encoder (given)."""
    classifier.encoder.set_weights(pretrained.encoder.get_weights())
