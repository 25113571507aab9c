"""Mutants of lab07_transformers: the mistakes students make in a first transformer."""
from tests.mutants import Mutant

T = "transformer.py"

MUTANTS = [
    # Dividing by d_k (or d_model) instead of its square root flattens the softmax.
    Mutant("scores_divided_by_depth_not_its_root", T,
           "/ tf.sqrt(depth)", "/ depth",
           breaks=("scaled_dot_product_attention", "attention_masks_get_zero_weight",
                   "multi_head_attention_matches_keras", "gpt_logits")),
    # Zeroing the weights after the softmax leaves rows that no longer sum to 1.
    Mutant("mask_applied_after_the_softmax", T,
           "        scores = tf.where(allowed, scores, tf.constant(MASKED_SCORE, tf.float32))\n"
           "    weights = tf.nn.softmax(scores, axis=-1)\n",
           "    weights = tf.nn.softmax(scores, axis=-1)\n"
           "    if mask is not None:\n"
           "        weights = weights * tf.cast(allowed, weights.dtype)\n",
           breaks=("attention_masks_get_zero_weight", "multi_head_attention_matches_keras",
                   "gpt_logits")),
    # Normalising over the queries: each key's column sums to 1, the rows do not.
    Mutant("softmax_over_the_queries", T,
           "weights = tf.nn.softmax(scores, axis=-1)", "weights = tf.nn.softmax(scores, axis=-2)",
           breaks=("scaled_dot_product_attention", "attention_masks_get_zero_weight",
                   "multi_head_attention_matches_keras", "gpt_is_causal", "gpt_logits")),
    # Strictly below the diagonal: position 0 may attend to nothing, its row is all
    # MASKED_SCORE, the softmax spreads it uniformly over EVERY position, the future included.
    Mutant("causal_mask_excludes_the_diagonal", T,
           "return positions[None, :] <= positions[:, None]",
           "return positions[None, :] < positions[:, None]",
           breaks=("causal_mask", "gpt_is_causal", "gpt_logits")),
    Mutant("causal_mask_sees_one_step_ahead", T,
           "return positions[None, :] <= positions[:, None]",
           "return positions[None, :] <= positions[:, None] + 1",
           breaks=("causal_mask", "gpt_is_causal", "gpt_logits")),
    # A reshape straight to (N, H, T, Dh) puts positions into heads.
    Mutant("heads_split_by_reshape_without_transpose", T,
           "    x = tf.reshape(x, (batch, length, num_heads, head_dim))\n"
           "    return tf.transpose(x, (0, 2, 1, 3))\n",
           "    return tf.reshape(x, (batch, num_heads, length, head_dim))\n",
           breaks=("split_and_merge_heads", "multi_head_attention_matches_keras", "gpt_logits")),
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
           breaks=("transformer_block_is_pre_norm", "gpt_logits")),
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
           breaks=("next_token_loss", "gpt_trains_on_toy_language")),
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
           breaks=("generate",)),
    Mutant("patches_flattened_column_by_column", T,
           "        grid = self.projection(images)\n",
           "        grid = tf.transpose(self.projection(images), (0, 2, 1, 3))\n",
           breaks=("patch_embedding",)),
    Mutant("class_token_appended_after_the_patches", T,
           "return tf.concat([tokens, x], axis=1)", "return tf.concat([x, tokens], axis=1)",
           breaks=("class_token",)),
]
