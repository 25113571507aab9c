"""Public checks of lab07_transformers, part 2: the pre-norm block and the mini-GPT.

Each unit is judged on its own where the lab allows, against the reference's unit run on
the same stand-ins (standins.py): the block with a stand-in attention sublayer (a masked
mean, not attention); embed and decode with stand-in blocks and a library causal mask;
next_token_loss and generate on a MiniGPT whose logits come from a fixed rule (so the
continuation depends on the position read, the crop and the temperature); train_step on a
small causal model with a stand-in loss, step by step. Causality is proven on the student's
whole decoder, and one training check trains the whole student model.
"""
import json

import numpy as np
from scipy.special import softmax

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights, scalar, snapshot, standing_in
from autograder.checks.lab07_transformers.probes import (
    block_against_its_sublayers,
    causality_probe,
    cross_entropy_np,
    judge_block,
    judge_causality,
    toy_language,
)
from autograder.checks.lab07_transformers.standins import (
    RULE_MAX_LENGTH,
    RULE_VOCAB,
    rule_gpt,
    rule_logits_np,
    rule_next,
    standin_blocks,
    standin_causal_mask,
    standin_sample_next_token,
    tiny_gpt,
    with_blocks,
)
from autograder.verdicts import (
    expect_at_most,
    expect_close,
    expect_equal,
    expect_shape,
    expect_true,
)

# ---------------------------------------------------------------------------------------------
# 4. The pre-norm block
# ---------------------------------------------------------------------------------------------


@check(points=2, task="`TransformerBlock.call`",
       hint="pre-norm: h = x + attention(norm1(x), norm1(x), attention_mask=attention_mask); "
            "out = h + mlp_output(mlp_hidden(norm2(h)))")
def transformer_block_is_pre_norm(lab, rng):
    """With a stand-in attention sublayer (a masked mean, not attention) and random weights,
    against the reference's block on the same, with the 2-D causal mask and without a
    mask."""
    return block_against_its_sublayers(lab, rng, batch=2, length=6, width=8, num_heads=2,
                                       mlp_dim=16)


@transformer_block_is_pre_norm.verdict
def _(student, reference):
    judge_block(student, reference, "TransformerBlock(num_heads=2, head_dim=4, mlp_dim=16)(x (2, 6, 8))")


# ---------------------------------------------------------------------------------------------
# 5. The mini-GPT
# ---------------------------------------------------------------------------------------------


@check(points=3, reference=False, task="`MiniGPT.decode` (causality)",
       hint="decode: one causal_mask(T) with T = tf.shape(hidden)[1], passed as attention_mask "
            "to every block; position t must never see an input after t")
def gpt_is_causal(lab, rng):
    """The whole decoder (2 blocks): logits at t unchanged when the inputs after t change;
    zero gradient from t to every later input, non-zero to every earlier one."""
    return causality_probe(lab, rng)


@gpt_is_causal.verdict
def _(student, _reference):
    judge_causality(student, "MiniGPT.decode (2 blocks, random weights)")


@check(points=2, task="`MiniGPT.embed`, `MiniGPT.decode`",
       hint="embed: position_embedding(token_embedding(tokens)); decode: every block under "
            "causal_mask(T), then final_norm, then head")
def gpt_logits(lab, rng):
    """With two stand-in blocks (a residual masked mean, not attention) and causal_mask from
    the library: embed and the logits for T = 8 and T = 5 against the reference's with the
    same stand-ins and weights; the first 5 logits of T = 8 must be those of T = 5."""
    blocks = standin_blocks(rng, 2, 16, 8)
    with standing_in(lab.transformer, causal_mask=standin_causal_mask):
        model = with_blocks(lab.transformer.MiniGPT, blocks)(7, 8, d_model=16, num_heads=2,
                                                             num_layers=2, mlp_dim=32)
        assign_random_weights(model, rng)
        return gpt_logits_probe(model, blocks, rng.integers(0, 7, size=(3, 8)).astype("int32"))


def gpt_logits_probe(model, blocks, tokens):
    embedded = model.embed(tokens)
    out = {"embedded": embedded, "tokens_only": model.token_embedding(tokens)}
    for name, length in (("full", 8), ("short", 5)):
        out[name] = model(tokens[:, :length])
        hidden = embedded[:, :length]
        for block in blocks:
            hidden = block(hidden, attention_mask=np.tril(np.ones((length, length), bool)))
        out[f"{name}_no_final_norm"] = model.head(hidden)
    return out


@gpt_logits.verdict
def _(student, reference):
    embedded = np.asarray(student["embedded"])
    expect_true(embedded.shape != np.shape(student["tokens_only"]) or not np.allclose(
        embedded, student["tokens_only"], atol=1e-6), "MiniGPT.embed(tokens) returns the token "
        "embeddings alone: add the position embeddings (position_embedding(...))")
    expect_close(embedded, reference["embedded"], "MiniGPT.embed(tokens (3, 8)), with the "
                 "reference's weights", atol=1e-5)
    tolerances = {"rtol": 1e-3, "atol": 1e-4}
    what = "MiniGPT(tokens (3, {})) with stand-in blocks".format
    for name, length in (("full", 8), ("short", 5)):
        logits, variant = np.asarray(student[name]), student[f"{name}_no_final_norm"]
        expect_true(logits.shape != np.shape(variant) or not np.allclose(logits, variant,
                    **tolerances), f"{what(length)}: decode skips final_norm before the head")
    full, short = np.asarray(student["full"]), np.asarray(student["short"])
    if full[:, :5].shape == short.shape:
        expect_true(np.allclose(full[:, :5], short, **tolerances),
                    f"{what(8)}: the logits at positions 0..4 change when tokens 5..7 follow "
                    "them: decode must pass attention_mask=causal_mask(T) to every block")
    for name, length in (("full", 8), ("short", 5)):
        expect_close(student[name], reference[name], f"{what(length)} (the same for the "
                     "reference), with the reference's weights", **tolerances)


def rule_sequences(rng, n, length):
    """Sequences whose next token follows the rule model's favourite about half the time."""
    tokens = rng.integers(0, RULE_VOCAB, size=(n, 1))
    for _ in range(length - 1):
        follow = rule_next(tokens)[:, -1]
        draw = rng.integers(0, RULE_VOCAB, size=n)
        tokens = np.concatenate([tokens, np.where(rng.random(n) < 0.5, follow, draw)[:, None]], 1)
    return tokens.astype("int32")


@check(points=2, task="`MiniGPT.next_token_loss`",
       hint="inputs = sequences[:, :-1], targets = sequences[:, 1:] (the next token); "
            "logits cast to float32; the mean sparse cross-entropy from logits over every "
            "position")
def next_token_loss(lab, rng):
    """On a MiniGPT whose logits follow a fixed rule (float32, and float16 as under mixed
    precision): loss and accuracy against the reference's on the same model and sequences,
    both float32 scalars."""
    sequences = rule_sequences(rng, 4, 9)
    out = {"sequences": sequences}
    for name, model in (("", rule_gpt(lab)), ("half_", rule_gpt(lab, half=True))):
        loss, accuracy = model.next_token_loss(sequences)
        out[f"{name}dtypes"] = json.dumps([str(np.asarray(v).dtype) for v in (loss, accuracy)])
        out[f"{name}loss"] = scalar(loss, "the loss of next_token_loss")
        out[f"{name}accuracy"] = scalar(accuracy, "the accuracy of next_token_loss")
    return out


@next_token_loss.verdict
def _(student, reference):
    sequences = np.asarray(student["sequences"])
    unshifted = cross_entropy_np(rule_logits_np(sequences[:, :-1]), sequences[:, :-1])[0]
    what = "next_token_loss(sequences (4, 9)) on a model whose logits follow a fixed rule"
    for variant, mistake in ((unshifted, "the targets are not shifted: predict sequences[:, 1:]"),
                             (reference["loss"] * 8, "the cross-entropy is summed over the 8 "
                                                     "positions, not averaged")):
        expect_true(not np.isclose(student["loss"], variant, rtol=1e-4), f"{what}: {mistake}")
    expect_close(student["loss"], reference["loss"], f"the loss of {what}", rtol=1e-4,
                 atol=1e-4)
    expect_close(student["accuracy"], reference["accuracy"], f"the accuracy of {what} (argmax "
                 "of the logits == the next token)")
    dtypes = json.loads(student["half_dtypes"])
    expect_true(dtypes == ["float32", "float32"], f"{what}, with float16 logits (mixed "
                f"precision), returned {dtypes[0]} and {dtypes[1]}: cast the logits to float32 "
                "before the loss")
    expect_close(student["half_loss"], reference["half_loss"], f"the loss of {what}, with "
                 "float16 logits", rtol=1e-4, atol=1e-4)


@check(points=2, reference=False, task="`sample_next_token`",
       hint="temperature 0: tf.argmax; otherwise keras.random.categorical(logits / "
            "temperature, 1, seed=seed): it takes LOGITS, not probabilities")
def sample_next_token(lab, rng):
    """Greedy = argmax; 4000 draws at T = 0.5 and T = 2 follow softmax(logits / T) within
    0.035; the same int seed gives the same draws."""
    logits = (1.5 * rng.normal(size=(3, 5))).astype("float32")
    repeated = np.repeat(logits, 4000, axis=0)
    draws = {}
    for temperature in (0.5, 2.0):
        tokens = np.asarray(lab.transformer.sample_next_token(repeated, temperature, seed=7))
        draws[str(temperature)] = tokens
    greedy_logits = rng.normal(size=(6, 9)).astype("float32")
    return {"logits": logits, "draws_0.5": draws["0.5"], "draws_2.0": draws["2.0"],
            "again": lab.transformer.sample_next_token(repeated[:50], 2.0, seed=7),
            "greedy": lab.transformer.sample_next_token(greedy_logits, 0.0),
            "greedy_logits": greedy_logits}


@sample_next_token.verdict
def _(student, _reference):
    expect_equal(student["greedy"], np.argmax(student["greedy_logits"], axis=-1),
                 "sample_next_token(logits, temperature=0) (the argmax)")
    logits = np.asarray(student["logits"], dtype=np.float64)
    for temperature in (0.5, 2.0):
        draws = expect_shape(student[f"draws_{temperature}"], (3 * 4000,),
                             f"sample_next_token on (12000, 5) logits, temperature {temperature}")
        expect_true(draws.min() >= 0 and draws.max() < 5, "sample_next_token returned token ids "
                    f"outside [0, 5): {draws.min()} to {draws.max()}")
        for row in range(3):
            counts = np.bincount(draws[row * 4000:(row + 1) * 4000], minlength=5) / 4000
            wanted = softmax(logits[row] / temperature)
            gap = np.abs(counts - wanted).max()
            expect_true(gap <= 0.035, f"with temperature {temperature}, 4000 draws from the "
                        f"logits {np.round(logits[row], 2).tolist()} have frequencies "
                        f"{np.round(counts, 3).tolist()}, but softmax(logits / T) is "
                        f"{np.round(wanted, 3).tolist()}")
    expect_equal(student["again"], np.asarray(student["draws_2.0"])[:50],
                 "sample_next_token with the same int seed, called twice")


def slipped_continuation(prompt, count, slip):
    """What greedy decoding of the rule model gives with a slip: reading the logits of
    position 0 of the context ("first_position"), or feeding the whole history
    ("uncropped")."""
    tokens = np.asarray(prompt, dtype=np.int64)
    for _ in range(count):
        if slip == "uncropped":
            chosen = rule_next(tokens)[:, -1]
        else:
            chosen = rule_next(tokens[:, -RULE_MAX_LENGTH:])[:, 0]
        tokens = np.concatenate([tokens, chosen[:, None]], axis=1)
    return tokens


@check(points=2, task="`MiniGPT.generate`",
       hint="generate: crop the context to the last max_length tokens, take the logits of the "
            "LAST position, sample_next_token(logits, temperature, seed), append, repeat")
def generate(lab, rng):
    """On a MiniGPT whose logits follow a fixed rule (max_length 8), with sample_next_token
    from the library: greedy continuations of prompts longer and shorter than max_length
    against the reference's; 4000 sampled continuations per prompt at T = 2 follow
    softmax(logits / T) within 0.035; the same seed gives the same tokens."""
    with standing_in(lab.transformer, sample_next_token=standin_sample_next_token):
        return generate_probe(rule_gpt(lab), rng)


def generate_probe(model, rng):
    long_prompt = rng.integers(0, RULE_VOCAB, size=(3, 10)).astype("int32")
    short_prompt = rng.integers(0, RULE_VOCAB, size=(2, 3)).astype("int32")
    prompts = rng.integers(0, RULE_VOCAB, size=(2, 5)).astype("int32")
    few = prompts[[0, 1, 0, 1]]
    return {"long_prompt": long_prompt, "long": model.generate(long_prompt, 4),
            "short_prompt": short_prompt, "short": model.generate(short_prompt, 6),
            "prompts": prompts,
            "sampled": model.generate(np.repeat(prompts, 4000, axis=0), 2, temperature=2.0,
                                      seed=5),
            "few": model.generate(few, 3, temperature=1.0, seed=11),
            "few_again": model.generate(few, 3, temperature=1.0, seed=11)}


def next_token_distribution(context, temperature=2.0):
    return softmax(rule_logits_np(context)[:, -1] / temperature, axis=-1)


@generate.verdict
def _(student, reference):
    for name, count in (("long", 4), ("short", 6)):
        prompt = np.asarray(student[f"{name}_prompt"])
        what = f"generate(prompt {prompt.shape}, {count}) (greedy, max_length 8)"
        tokens = expect_shape(student[name], (len(prompt), prompt.shape[1] + count), what)
        expect_equal(tokens[:, :prompt.shape[1]], prompt, f"the first tokens of {what} (the "
                     "prompt itself)")
        expected = np.asarray(reference[name])
        for slip, mistake in (
                ("first_position", "it reads the logits of position 0; the next token comes "
                                   "from the LAST position, logits[:, -1]"),
                ("uncropped", "the model must see only the last max_length tokens: context = "
                              "tokens[:, -max_length:]")):
            variant = slipped_continuation(prompt, count, slip)
            expect_true(np.array_equal(variant, expected) or not np.array_equal(tokens, variant),
                        f"{what}: {mistake}")
        expect_equal(tokens, expected, f"{what}, against the reference's on the same model")
    prompts = np.asarray(student["prompts"])
    what = "generate(prompts repeated 4000 times, 2, temperature=2.0, seed=5)"
    sampled = expect_shape(student["sampled"], (8000, 7), what)
    expect_equal(sampled[:, :5], np.repeat(prompts, 4000, axis=0), f"the prompts in {what}")
    expect_true(sampled.min() >= 0 and sampled.max() < RULE_VOCAB, f"{what} returned token ids "
                f"outside [0, {RULE_VOCAB})")
    for row, prompt in enumerate(prompts):
        mine = sampled[row * 4000:(row + 1) * 4000]
        first = next_token_distribution(prompt[None])[0]
        second = sum(first[a] * next_token_distribution(np.append(prompt, a)[None])[0]
                     for a in range(RULE_VOCAB))
        for step, wanted in ((0, first), (1, second)):
            counts = np.bincount(mine[:, 5 + step], minlength=RULE_VOCAB) / 4000
            expect_true(np.abs(counts - wanted).max() <= 0.035, f"{what}: new token {step + 1} "
                        f"of prompt {prompt.tolist()} has frequencies "
                        f"{np.round(counts, 3).tolist()}, but the model's softmax(logits / 2) "
                        f"gives {np.round(wanted, 3).tolist()}: pass temperature and seed to "
                        "sample_next_token and sample from the last position's logits")
    again, first = np.asarray(student["few_again"]), np.asarray(student["few"])
    differ = int((again != first).sum()) if again.shape == first.shape else again.size
    expect_true(differ == 0, f"generate(prompt, 3, temperature=1.0, seed=11) called twice "
                f"gave different tokens ({differ} of {first.size} differ): the same seed must "
                "give the same tokens. Pass the seed on to sample_next_token (an int seed "
                "becomes one keras.random.SeedGenerator for the whole call)")


@check(points=2, task="`MiniGPT.train_step`",
       hint="train_step: the loss of self.next_token_loss(sequences) under a GradientTape, "
            "scaled = self.optimizer.scale_loss(loss), tape.gradient(scaled, "
            "self.trainable_variables), self.optimizer.apply; update the trackers")
def gpt_train_step(lab, rng):
    """fit() on a small causal model written here, with a stand-in next_token_loss of known
    behaviour (not the cross-entropy), 2 epochs of 4 batches: the logged loss and accuracy
    and the trained weights against the reference's train_step on the same, step for
    step."""
    import keras
    model = tiny_gpt(lab, rng)
    weights = [w for layer in (model.token_embedding, model.final_norm, model.head)
               for w in layer.trainable_weights]
    before = snapshot(weights)
    # Eager: 8 steps of a small model cost less than tracing them (XLA and tracing are the
    # readiness checks' business).
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
    data = toy_language(64, 13, 8, seed=int(rng.integers(1 << 30)))
    history = model.fit(data, batch_size=16, epochs=2, shuffle=False, verbose=0).history
    return {"logged": json.dumps(sorted(history)),
            "loss": np.asarray(history.get("loss", [np.nan] * 2), dtype="float64"),
            "accuracy": np.asarray(history.get("accuracy", [np.nan] * 2), dtype="float64"),
            "moved": max(float(np.abs(b - a).max()) for b, a in zip(before, snapshot(weights))),
            "weights": np.concatenate([np.ravel(w) for w in snapshot(weights)])}


@gpt_train_step.verdict
def _(student, reference):
    logged = json.loads(student["logged"])
    expect_true(logged == ["accuracy", "loss"], f"fit() logged {logged}; train_step must "
                "update the trackers and return their results: ['accuracy', 'loss']")
    expect_true(student["moved"] > 0, "fit() did not change the model's weights: train_step "
                "must apply the gradient of the loss with self.optimizer.apply")
    expect_close(student["weights"], reference["weights"], "the weights after 8 steps of "
                 "fit() (Adam 1e-2, a small model written by the check whose next_token_loss "
                 "is a stand-in: train_step must minimise self.next_token_loss(sequences)), "
                 "against the reference's train_step on the same model and batches", rtol=1e-3,
                 atol=1e-5)
    expect_close(student["loss"], reference["loss"], "the loss fit() logged in each of the 2 "
                 "epochs (the mean over the batches of the loss self.next_token_loss returns)",
                 rtol=1e-4, atol=1e-5)
    expect_close(student["accuracy"], reference["accuracy"], "the accuracy fit() logged in "
                 "each of the 2 epochs", rtol=1e-4, atol=1e-5)


GPT_TRAIN = {"vocab_size": 8, "length": 12, "d_model": 32, "num_heads": 2, "num_layers": 1,
             "mlp_dim": 64, "learning_rate": 3e-3, "batch_size": 32, "steps": 60,
             "test_sequences": 512}
# How much higher than the reference's held-out next-token loss a student model may end up
# (nats per token). Over training seeds the reference ends between 0.55 and 0.57 nats;
# training on unshifted targets (predicting the current token) ends above 1.5.
GPT_MARGIN_NATS = 0.2


@check(points=2, timeout=40, task="the whole `MiniGPT`",
       hint="every piece of the model at once: if this is the only GPT check that fails, "
            "look for a layer that does not pass its gradient (numpy inside call, a weight "
            "created with trainable=False)")
def gpt_trains_on_toy_language(lab, rng):
    """`fit` logs `accuracy` and `loss`; the held-out next-token loss of the whole model
    after 60 steps within 0.2 nats of the reference's."""
    import keras
    budget = GPT_TRAIN
    seed = int(rng.integers(1 << 30))
    length, vocab = budget["length"], budget["vocab_size"]
    train = toy_language(budget["steps"] * budget["batch_size"], length + 1, vocab, seed)
    test = toy_language(budget["test_sequences"], length + 1, vocab, seed + 1)
    model = lab.transformer.MiniGPT(vocab, length, d_model=budget["d_model"],
                                    num_heads=budget["num_heads"],
                                    num_layers=budget["num_layers"], mlp_dim=budget["mlp_dim"])
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                  steps_per_execution=budget["steps"] // 2)
    before = cross_entropy_np(model(test[:, :-1]), test[:, 1:])[0]
    history = model.fit(train, batch_size=budget["batch_size"], epochs=1, shuffle=False,
                        verbose=0).history
    after, accuracy = cross_entropy_np(model(test[:, :-1]), test[:, 1:])
    return {"before": before, "after": after, "accuracy": accuracy,
            "logged": json.dumps(sorted(history))}


@gpt_trains_on_toy_language.verdict
def _(student, reference):
    logged = json.loads(student["logged"])
    expect_true(logged == ["accuracy", "loss"], f"fit() logged {logged}; train_step must "
                "return the trackers' results: ['accuracy', 'loss']")
    after = student["after"]
    where = (f"held-out next-token loss from {student['before']:.3f} to {after:.3f} nats "
             f"(accuracy {student['accuracy']:.0%}); the reference goes from "
             f"{reference['before']:.3f} to {reference['after']:.3f} "
             f"({reference['accuracy']:.0%})")
    if not np.isfinite(after):
        raise CheckFailed(f"after training, {where}: the training diverged")
    expect_true(student["before"] - after >= 0.5 * (reference["before"] - reference["after"]),
                f"training did not lower the loss enough: {where}. Does train_step predict "
                "sequences[:, 1:] from sequences[:, :-1] and apply the gradient?")
    expect_at_most(after, reference["after"] + GPT_MARGIN_NATS,
                   f"the held-out next-token loss after training ({where})", unit=" nats")
