"""Mutants of lab07b_encoder_decoder: the mistakes of a first encoder-decoder, a first BERT
and a first key/value cache."""
from tests.mutants import Mutant

M = "encoder_decoder.py"

MUTANTS = [
    # Keys projected with the value weights and values with the key weights.
    Mutant("keys_and_values_swapped", M,
           "        return (keys + self.key_bias[None, :, None, :],\n"
           "                values + self.value_bias[None, :, None, :])\n",
           "        return (values + self.value_bias[None, :, None, :],\n"
           "                keys + self.key_bias[None, :, None, :])\n",
           breaks=("cross_attention_matches_keras",), says="value_kernel"),
    # A padding mask (N, 1, S) without a head axis lines its batch up with the heads.
    Mutant("mask_without_a_head_axis", M,
           "attention_mask = tf.expand_dims(tf.cast(attention_mask, tf.bool), axis=-3)",
           "attention_mask = tf.cast(attention_mask, tf.bool)",
           breaks=("cross_attention_matches_keras",), says="head axis"),
    Mutant("queries_without_their_bias", M,
           "        queries += self.query_bias[None, :, None, :]\n", "",
           breaks=("cross_attention_matches_keras",), says="query_bias set to 0"),
    Mutant("values_without_their_bias", M,
           "                values + self.value_bias[None, :, None, :])\n",
           "                values)\n",
           breaks=("cross_attention_matches_keras",), says="add value_bias"),
    Mutant("output_without_its_bias", M,
           "tf.einsum(\"nhtd,hdc->ntc\", heads, self.output_kernel) + self.output_bias",
           "tf.einsum(\"nhtd,hdc->ntc\", heads, self.output_kernel)",
           breaks=("cross_attention_matches_keras",), says="add output_bias after merging"),
    # The heads flattened without their layout: (N*H*T, Dh) against (H*Dh, C) crashes.
    Mutant("heads_merged_by_a_flat_reshape", M,
           "output = tf.einsum(\"nhtd,hdc->ntc\", heads, self.output_kernel) + self.output_bias",
           "output = tf.matmul(tf.reshape(heads, (-1, self.head_dim)), tf.reshape(\n"
           "            self.output_kernel, (-1, self.output_kernel.shape[-1]))) + self.output_bias",
           breaks=("cross_attention_matches_keras",), says="shapes expected are queries"),
    # Lab 7's pre-norm block where the original transformer's is post-norm.
    Mutant("encoder_block_pre_norm", M,
           "        x = self.norm1(x + self.attention(x, x, attention_mask=padding_mask))\n"
           "        return self.norm2(x + self.mlp_output(self.mlp_hidden(x)))\n",
           "        normed = self.norm1(x)\n"
           "        x = x + self.attention(normed, normed, attention_mask=padding_mask)\n"
           "        return x + self.mlp_output(self.mlp_hidden(self.norm2(x)))\n",
           breaks=("encoder_block_is_post_norm",), says="PRE-norm"),
    Mutant("encoder_block_ignores_the_padding_mask", M,
           "self.norm1(x + self.attention(x, x, attention_mask=padding_mask))",
           "self.norm1(x + self.attention(x, x))",
           breaks=("encoder_block_is_post_norm",), says="padding mask"),
    # The decoder reads the targets after t: teacher forcing turns into copying.
    Mutant("decoder_self_attention_not_causal", M,
           "self.self_attention(x, x, attention_mask=causal_mask(tf.shape(x)[1]))",
           "self.self_attention(x, x)",
           breaks=("decoder_block_is_post_norm",), says="causal"),
    Mutant("cross_attention_without_the_source_mask", M,
           "causal_mask(tf.shape(x)[1])))\n"
           "        x = self.norm2(x + self.cross_attention(x, memory, attention_mask=source_mask))",
           "causal_mask(tf.shape(x)[1])))\n"
           "        x = self.norm2(x + self.cross_attention(x, memory))",
           breaks=("decoder_block_is_post_norm",), says="source_mask"),
    Mutant("decoder_runs_cross_attention_first", M,
           "        x = self.norm1(x + self.self_attention(x, x, attention_mask=causal_mask(tf.shape(x)[1])))\n"
           "        x = self.norm2(x + self.cross_attention(x, memory, attention_mask=source_mask))\n",
           "        x = self.norm1(x + self.cross_attention(x, memory, attention_mask=source_mask))\n"
           "        x = self.norm2(x + self.self_attention(x, x, attention_mask=causal_mask(tf.shape(x)[1])))\n",
           breaks=("decoder_block_is_post_norm",), says="before the self-attention"),
    Mutant("decoder_cross_first_with_its_norm", M,
           "        x = self.norm1(x + self.self_attention(x, x, attention_mask=causal_mask(tf.shape(x)[1])))\n"
           "        x = self.norm2(x + self.cross_attention(x, memory, attention_mask=source_mask))\n",
           "        x = self.norm2(x + self.cross_attention(x, memory, attention_mask=source_mask))\n"
           "        x = self.norm1(x + self.self_attention(x, x, attention_mask=causal_mask(tf.shape(x)[1])))\n",
           breaks=("decoder_block_is_post_norm",), says="before the self-attention"),
    Mutant("cross_attention_queries_from_the_input", M,
           "        x = self.norm1(x + self.self_attention(x, x, attention_mask=causal_mask(tf.shape(x)[1])))\n"
           "        x = self.norm2(x + self.cross_attention(x, memory, attention_mask=source_mask))\n",
           "        h = self.norm1(x + self.self_attention(x, x, attention_mask=causal_mask(tf.shape(x)[1])))\n"
           "        x = self.norm2(h + self.cross_attention(x, memory, attention_mask=source_mask))\n",
           breaks=("decoder_block_is_post_norm",), says="queries come from the block's input"),
    Mutant("decode_reads_no_memory", M,
           "            hidden = block(hidden, memory, source_mask)\n",
           "            hidden = block(hidden, tf.zeros_like(memory), source_mask)\n",
           breaks=("model_ignores_padding", "translation_trains"), says="does not read the source"),
    Mutant("encoder_without_positions", M,
           "hidden = self.token_embedding(tokens) + positions[None]",
           "hidden = self.token_embedding(tokens)",
           breaks=("encoder_output",), says="position"),
    Mutant("decode_drops_the_source_mask", M,
           "            hidden = block(hidden, memory, source_mask)\n",
           "            hidden = block(hidden, memory)\n",
           breaks=("model_ignores_padding",), says="source_mask"),
    Mutant("greedy_reads_the_first_position", M,
           "logits = self.decode(tokens, memory, source_mask)[:, -1]",
           "logits = self.decode(tokens, memory, source_mask)[:, 0]",
           breaks=("greedy_decode",), says="position 0"),
    Mutant("greedy_goes_on_after_eos", M,
           "        return stop_at_eos(tokens[:, 1:])\n        # END SOLUTION\n",
           "        return tokens[:, 1:].numpy()\n        # END SOLUTION\n",
           breaks=("greedy_decode",), says="after"),
    # The cache is never extended: each step sees itself only.
    Mutant("cache_never_appended", M,
           "        keys = tf.concat([cache[\"keys\"], new_keys], axis=2)\n"
           "        values = tf.concat([cache[\"values\"], new_values], axis=2)\n",
           "        keys, values = new_keys, new_values\n",
           breaks=("decoder_block_step", "cache_saves_attention_work"), says="append"),
    Mutant("cached_step_attends_to_itself_only", M,
           "x = self.norm1(x + self.self_attention.attend(x, keys, values))",
           "x = self.norm1(x + self.self_attention.attend(x, new_keys, new_values))",
           breaks=("decoder_block_step",), says="cached keys"),
    Mutant("cached_step_without_the_source_mask", M,
           "self.self_attention.attend(x, keys, values))\n"
           "        x = self.norm2(x + self.cross_attention(x, memory, attention_mask=source_mask))",
           "self.self_attention.attend(x, keys, values))\n"
           "        x = self.norm2(x + self.cross_attention(x, memory))",
           breaks=("decoder_block_step", "cached_logits_match_uncached"),
           says="your uncached block's .*source_mask"),
    Mutant("decode_step_embeds_at_position_zero", M,
           "hidden = self.embed_target(token[:, None], start=step)",
           "hidden = self.embed_target(token[:, None])",
           breaks=("cached_logits_match_uncached",), says="position"),
    Mutant("padding_may_be_chosen", M,
           "chosen = (rng.random(tokens.shape) < rate) & (tokens != PAD)",
           "chosen = rng.random(tokens.shape) < rate",
           breaks=("mask_tokens_statistics",), says="PAD"),
    # The PAD test inverted: only padding is ever chosen, so pretraining learns no grammar and
    # the fine-tuned classifier gains next to nothing over training from scratch.
    Mutant("only_padding_chosen", M,
           "chosen = (rng.random(tokens.shape) < rate) & (tokens != PAD)",
           "chosen = (rng.random(tokens.shape) < rate) & (tokens == PAD)",
           breaks=("mask_tokens_statistics", "pretraining_beats_scratch")),
    # 90 % MASK: the random-word share overwrites part of the masks, nothing stays unchanged.
    Mutant("every_chosen_position_masked_first", M,
           "inputs[chosen & (action < 0.8)] = MASK",
           "inputs[chosen] = MASK",
           breaks=("mask_tokens_statistics",), says="MASK with probability 0.8"),
    Mutant("random_words_may_be_pad_or_mask", M,
           "rng.integers(FIRST_WORD, SOURCE_VOCAB, size=tokens.shape)",
           "rng.integers(0, SOURCE_VOCAB, size=tokens.shape)",
           breaks=("mask_tokens_statistics",), says="never PAD or MASK"),
    # numpy's integers(low, high) excludes high: the last word is never a replacement.
    Mutant("random_words_miss_the_last_word", M,
           "rng.integers(FIRST_WORD, SOURCE_VOCAB, size=tokens.shape)",
           "rng.integers(FIRST_WORD, SOURCE_VOCAB - 1, size=tokens.shape)",
           breaks=("mask_tokens_statistics",), says="one past the last word"),
    Mutant("masked_lm_loss_over_every_position", M,
           "return tf.reduce_sum(losses * chosen) / tf.maximum(tf.reduce_sum(chosen), 1.0)",
           "return tf.reduce_mean(losses * chosen)",
           breaks=("masked_lm_loss",), says="every position"),
    Mutant("pooling_counts_padding", M,
           "pooled = tf.reduce_sum(hidden * real, axis=1) / tf.maximum(tf.reduce_sum(real, 1), 1.0)",
           "pooled = tf.reduce_mean(hidden, axis=1)",
           breaks=("sentence_pooling",), says="PAD included"),
]
