"""Lab 6, part 4: a character-level language model and sampling with a temperature.
Fill in the parts marked TODO.

The model reads characters and predicts, at every position, a distribution over the next
one; it trains with the ordinary cross-entropy on (inputs, targets) windows where the
targets are the inputs moved one character ahead. Text is then generated one character at
a time: logits -> softmax with a temperature -> a sample -> fed back in.

The text is corpus.txt, next to this file (an original short story, about 5.7 KB).
Shapes: N sequences, T characters, V vocabulary size, L text length.
Sampling functions take numpy arrays (or tensors) and may return either.
"""
import math
from pathlib import Path

import keras
import numpy as np

CORPUS = Path(__file__).with_name("corpus.txt")
LOG_2 = math.log(2.0)


def load_corpus():
    """The shipped text, as one string."""
    return CORPUS.read_text(encoding="utf-8")


class Vocabulary:
    """The characters of a text, in sorted order: encode str -> ids, decode ids -> str."""

    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        return np.array([self.index[c] for c in text], dtype="int32")

    def decode(self, ids):
        return "".join(self.chars[int(i)] for i in np.ravel(ids))


def next_char_examples(ids, seq_len, stride=None):
    """Training windows for next-character prediction.

    ids: (L,) int, an encoded text; seq_len: T; stride: how far each window starts after
    the previous one (default seq_len: windows do not overlap).
    Returns (inputs, targets), both (M, T) int32, where window m starts at m * stride:
    inputs[m] = ids[m*stride : m*stride + T], targets[m] = ids[m*stride + 1 : m*stride + T + 1]
    (the same characters moved one ahead), for every m whose targets fit inside the text.
    """
    stride = stride or seq_len
    ids = np.asarray(ids)
    starts = range(0, len(ids) - seq_len, stride)
    inputs = [ids[s:s + seq_len] for s in starts]
    targets = [ids[s + 1:s + seq_len + 1] for s in starts]
    if not inputs:
        empty = np.zeros((0, seq_len), dtype="int32")
        return empty, empty.copy()
    return np.stack(inputs).astype("int32"), np.stack(targets).astype("int32")


def softmax_with_temperature(logits, temperature):
    """p_i = exp(l_i / temperature) / sum_j exp(l_j / temperature), stably.

    logits: (N, V); temperature > 0 (1: the model's own distribution; < 1 sharper, towards
    the argmax; > 1 flatter, towards uniform). Returns probs: (N, V), rows summing to 1.
    """
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    e = np.exp(scaled)
    return e / e.sum(axis=-1, keepdims=True)


def sample_from_probs(probs, uniforms):
    """Draw one category per row by inverting the cumulative distribution.

    probs: (N, V), rows summing to 1; uniforms: (N,) in [0, 1), one given uniform per row
    (given, so that sampling is reproducible). Returns (N,) int32: the smallest index k with
    probs[n, 0] + ... + probs[n, k] > uniforms[n] (V - 1 if rounding leaves none).
    """
    probs = np.asarray(probs, dtype=np.float64)
    cdf = np.cumsum(probs, axis=-1)
    u = np.asarray(uniforms, dtype=np.float64).reshape(-1, 1)
    k = np.sum(cdf <= u, axis=-1)
    return np.minimum(k, probs.shape[-1] - 1).astype("int32")


@keras.saving.register_keras_serializable(package="dlkit_lab06_rnn")
class CharLanguageModel(keras.Model):
    """Embedding -> GRU -> Dense: call(ids (N, T)) returns next-character logits (N, T, V)."""

    def __init__(self, vocab_size, embed_dim=16, units=128, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embed_dim, self.units = vocab_size, embed_dim, units
        self.embedding = keras.layers.Embedding(vocab_size, embed_dim)
        self.rnn = keras.layers.GRU(units, return_sequences=True, return_state=True)
        self.head = keras.layers.Dense(vocab_size)

    def call(self, ids):
        outputs, _ = self.rnn(self.embedding(ids))
        return self.head(outputs)

    def step(self, ids, state=None):
        """Read ids (N, P) from state (None: zeros). Returns (logits of the character after
        the last one read, (N, V) float32 numpy; the new state)."""
        outputs, state = self.rnn(self.embedding(ids), initial_state=state)
        return np.asarray(self.head(outputs[:, -1]), dtype="float32"), state

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "embed_dim": self.embed_dim, "units": self.units}


def generate(model, prompt_ids, length, temperature, uniforms):
    """Continue each prompt by `length` sampled characters.

    model: a CharLanguageModel (use model.step); prompt_ids: (N, P) int, P >= 1;
    uniforms: (N, length), the uniform for step i of row n at [n, i].
    Returns (N, length) int32: the sampled characters, prompt not included.
    """
    uniforms = np.asarray(uniforms)
    logits, state = model.step(np.asarray(prompt_ids))
    sampled = []
    for i in range(length):
        probs = softmax_with_temperature(logits, temperature)
        ids = sample_from_probs(probs, uniforms[:, i])
        sampled.append(ids)
        if i + 1 < length:
            logits, state = model.step(ids[:, None], state)
    return np.stack(sampled, axis=1).astype("int32") if sampled else np.zeros((len(uniforms), 0), "int32")


def bits_per_character(nats):
    """A mean cross-entropy in nats per character, in bits per character."""
    return nats / LOG_2
