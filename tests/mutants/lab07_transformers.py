"""Mutants of lab07_transformers: the mistakes students make in a first transformer."""
from tests.mutants import Mutant

T = "transformer.py"

# The scores in the inputs' dtype: in float16 q . k overflows to inf and MASKED_SCORE
# becomes -inf, so a fully masked row is NaN.
SCORES_IN_FLOAT32 = """    query, key = tf.cast(query, tf.float32), tf.cast(key, tf.float32)
    depth = tf.cast(tf.shape(query)[-1], tf.float32)
    scores = tf.matmul(query, key, transpose_b=True) / tf.sqrt(depth)
    if mask is not None:
        allowed = tf.cast(mask, tf.bool)
        scores = tf.where(allowed, scores, tf.constant(MASKED_SCORE, tf.float32))
"""
SCORES_IN_INPUT_DTYPE = """    query = tf.convert_to_tensor(query)
    key = tf.cast(key, query.dtype)
    depth = tf.cast(tf.shape(query)[-1], query.dtype)
    scores = tf.matmul(query, key, transpose_b=True) / tf.sqrt(depth)
    if mask is not None:
        allowed = tf.cast(mask, tf.bool)
        scores = tf.where(allowed, scores, tf.cast(MASKED_SCORE, scores.dtype))
"""

MUTANTS = [
    # Dividing by d_k (or d_model) instead of its square root flattens the softmax.
    Mutant("scores_divided_by_depth_not_its_root", T,
           "/ tf.sqrt(depth)", "/ depth",
           breaks=("scaled_dot_product_attention", "attention_masks_get_zero_weight",
                   "multi_head_attention_matches_keras")),
    # Zeroing the weights after the softmax leaves rows that no longer sum to 1.
    Mutant("mask_applied_after_the_softmax", T,
           "        scores = tf.where(allowed, scores, tf.constant(MASKED_SCORE, tf.float32))\n"
           "    weights = tf.nn.softmax(scores, axis=-1)\n",
           "    weights = tf.nn.softmax(scores, axis=-1)\n"
           "    if mask is not None:\n"
           "        weights = weights * tf.cast(allowed, weights.dtype)\n",
           breaks=("attention_masks_get_zero_weight", "multi_head_attention_matches_keras",
                   "gpt_is_causal"), says="sum to 1"),
    # Normalising over the queries: each key's column sums to 1, the rows do not.
    Mutant("softmax_over_the_queries", T,
           "weights = tf.nn.softmax(scores, axis=-1)", "weights = tf.nn.softmax(scores, axis=-2)",
           breaks=("scaled_dot_product_attention", "attention_masks_get_zero_weight",
                   "multi_head_attention_matches_keras", "gpt_is_causal")),
    # Strictly below the diagonal: position 0 may attend to nothing, its row is all
    # MASKED_SCORE, the softmax spreads it uniformly over EVERY position, the future included.
    Mutant("causal_mask_excludes_the_diagonal", T,
           "return positions[None, :] <= positions[:, None]",
           "return positions[None, :] < positions[:, None]",
           breaks=("causal_mask", "gpt_is_causal")),
    Mutant("causal_mask_sees_one_step_ahead", T,
           "return positions[None, :] <= positions[:, None]",
           "return positions[None, :] <= positions[:, None] + 1",
           breaks=("causal_mask", "gpt_is_causal")),
    # A reshape straight to (N, H, T, Dh) puts positions into heads.
    Mutant("heads_split_by_reshape_without_transpose", T,
           "    x = tf.reshape(x, (batch, length, num_heads, head_dim))\n"
           "    return tf.transpose(x, (0, 2, 1, 3))\n",
           "    return tf.reshape(x, (batch, num_heads, length, head_dim))\n",
           breaks=("split_and_merge_heads", "multi_head_attention_matches_keras")),
    # The mask given to MultiHeadAttention has no head axis: it lines up with the wrong axes.
    Mutant("mask_not_expanded_for_the_heads", T,
           "attention_mask = tf.expand_dims(tf.cast(attention_mask, tf.bool), axis=-3)",
           "attention_mask = tf.cast(attention_mask, tf.bool)",
           breaks=("multi_head_attention_matches_keras",)),
    # The original transformer's post-norm: LN(x + sublayer(x)).
    Mutant("post_norm_block", T,
           "        normed = self.norm1(x)\n"
           "        x = x + self.attention(normed, normed, attention_mask=attention_mask)\n"
           "        return x + self.mlp_output(self.mlp_hidden(self.norm2(x)))\n",
           "        x = self.norm1(x + self.attention(x, x, attention_mask=attention_mask))\n"
           "        return self.norm2(x + self.mlp_output(self.mlp_hidden(x)))\n",
           breaks=("transformer_block_is_pre_norm",), says="POST-norm"),
    # [sin | cos] halves instead of interleaved pairs.
    Mutant("positional_encoding_not_interleaved", T,
           "return tf.reshape(tf.stack([tf.sin(angles), tf.cos(angles)], axis=-1), (length, depth))",
           "return tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1)",
           breaks=("sinusoidal_positional_encoding", "sinusoidal_encoding_properties")),
    # Only the first block gets the causal mask: the second one sees the future.
    Mutant("causal_mask_given_to_the_first_block_only", T,
           "            hidden = block(hidden, attention_mask=mask)\n",
           "            hidden = block(hidden, attention_mask=mask)\n            mask = None\n",
           breaks=("gpt_is_causal", "gpt_logits")),
    # Predicting the token at t from the tokens up to t: the copy is trivial, nothing learned.
    Mutant("targets_not_shifted", T,
           "inputs, targets = sequences[:, :-1], sequences[:, 1:]",
           "inputs, targets = sequences[:, :-1], sequences[:, :-1]",
           breaks=("next_token_loss",)),
    Mutant("train_step_without_scale_loss", T,
           "scaled_loss = self.optimizer.scale_loss(loss)",
           "scaled_loss = loss",
           breaks=("gpt_trains_in_mixed_precision",)),
    # keras.random.categorical takes logits: probabilities passed as logits are nearly uniform.
    Mutant("sampling_from_probabilities_as_logits", T,
           "draws = keras.random.categorical(logits / temperature, 1, seed=seed, dtype=\"int32\")",
           "draws = keras.random.categorical(tf.nn.softmax(logits / temperature), 1, seed=seed,"
           " dtype=\"int32\")",
           breaks=("sample_next_token",)),
    # Feeding the whole history: past max_length the positions run out.
    Mutant("generate_without_cropping_the_context", T,
           "context = tokens[:, -self.max_length:]", "context = tokens",
           breaks=("generate",), says="last max_length tokens"),
    Mutant("patches_flattened_column_by_column", T,
           "        grid = self.projection(images)\n",
           "        grid = tf.transpose(self.projection(images), (0, 2, 1, 3))\n",
           breaks=("patch_embedding",)),
    Mutant("class_token_appended_after_the_patches", T,
           "return tf.concat([tokens, x], axis=1)", "return tf.concat([x, tokens], axis=1)",
           breaks=("class_token",)),
    Mutant("attention_scores_in_the_inputs_dtype", T, SCORES_IN_FLOAT32, SCORES_IN_INPUT_DTYPE,
           breaks=("attention_in_float32",), says="float32"),
    # Cast after the matmul: q . k has already overflowed float16 to inf.
    Mutant("attention_scores_cast_after_the_matmul", T,
           "    query, key = tf.cast(query, tf.float32), tf.cast(key, tf.float32)\n"
           "    depth = tf.cast(tf.shape(query)[-1], tf.float32)\n"
           "    scores = tf.matmul(query, key, transpose_b=True) / tf.sqrt(depth)\n",
           "    key = tf.cast(key, tf.convert_to_tensor(query).dtype)\n"
           "    depth = tf.cast(tf.shape(query)[-1], tf.float32)\n"
           "    scores = tf.cast(tf.matmul(query, key, transpose_b=True), tf.float32) / tf.sqrt(depth)\n",
           breaks=("attention_in_float32",), says="NaN"),
    # The skeleton's "(N, 1, T, S)" read literally: the 2-D causal mask becomes (T, 1, S).
    Mutant("mask_always_given_a_head_axis_at_1", T,
           "attention_mask = tf.expand_dims(tf.cast(attention_mask, tf.bool), axis=-3)",
           "attention_mask = tf.cast(attention_mask, tf.bool)[:, None]",
           breaks=("multi_head_attention_matches_keras",), says=r"\(T, S\) mask"),
    Mutant("key_and_value_projections_swapped", T,
           "        k = split_heads(self.key_dense(key), self.num_heads)\n"
           "        v = split_heads(self.value_dense(value), self.num_heads)\n",
           "        k = split_heads(self.key_dense(value), self.num_heads)\n"
           "        v = split_heads(self.value_dense(key), self.num_heads)\n",
           breaks=("multi_head_attention_matches_keras",), says="swapped"),
    # The loss summed over the positions: Adam hardly notices, the logged number does.
    Mutant("next_token_loss_summed_over_time", T,
           "return tf.reduce_mean(losses), tf.reduce_mean(hits)",
           "return tf.reduce_mean(tf.reduce_sum(losses, axis=1)), tf.reduce_mean(hits)",
           breaks=("next_token_loss",), says="summed"),
    Mutant("generate_reads_the_first_position", T,
           "logits = self(context)[:, -1, :]", "logits = self(context)[:, 0, :]",
           breaks=("generate",), says="position 0"),
    Mutant("generate_always_greedy", T,
           "chosen = sample_next_token(logits, temperature, seed)",
           "chosen = sample_next_token(logits, 0.0, seed)",
           breaks=("generate",), says="frequencies"),
    # The gradient is computed and never applied: the trackers still log a loss.
    Mutant("train_step_never_applies_the_gradient", T,
           "        self.optimizer.apply(gradients, self.trainable_variables)\n", "",
           breaks=("gpt_train_step", "gpt_trains_on_toy_language"), says="did not change"),
    Mutant("vit_classifies_the_last_token", T,
           "return self.head(self.final_norm(x[:, 0]))",
           "return self.head(self.final_norm(x[:, -1]))",
           breaks=("vit_logits",), says="LAST token"),
    Mutant("vit_without_final_norm", T,
           "return self.head(self.final_norm(x[:, 0]))", "return self.head(x[:, 0])",
           breaks=("vit_logits",), says="final_norm"),
]
