"""GPU checks of lab07_transformers (autograder/gpu.py): the student's MiniGPT trained as a
character language model on tiny_shakespeare, judged by its validation bits per character,
and their VisionTransformer trained on CIFAR-10, judged by its test accuracy; both against
the reference's trained the same way."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_at_most

# 2 000 Adam steps on batches of 64 random windows of 128 characters (8 192 tokens) of a
# 4-layer, 256-wide, 4-head MiniGPT (3.2 M weights): about 25 MFLOP a token trained,
# 0.2 TFLOP a step, 400 TFLOP in all: about a minute at 10 % of a T4's fp16 peak.
GPT = {"length": 128, "d_model": 256, "num_heads": 4, "num_layers": 4, "mlp_dim": 1024,
       "batch": 64, "steps": 2_000, "learning_rate": 1e-3}
GPT_MARGIN_BITS = 0.1   # over seeds the reference varies by a few hundredths of a bit
GPT_CEILING_BITS = 3.0  # uniform: 6 bits, bigrams: about 3.6; this budget: about 2.3

# 10 epochs of CIFAR-10's 50 000 images in batches of 128 (3 900 steps) of a ViT with 4x4
# patches (65 tokens), 4 layers 128 wide, 4 heads: about 0.2 GFLOP an image trained,
# 100 TFLOP in all; small matmuls, so step latency (~15 ms) rather than FLOPs sets the pace.
VIT = {"patch_size": 4, "d_model": 128, "num_heads": 4, "num_layers": 4, "mlp_dim": 256,
       "batch": 128, "epochs": 10, "learning_rate": 1e-3}
VIT_MARGIN = 0.03   # test accuracy within 3 points of the reference's
VIT_FLOOR = 0.45    # a ViT from scratch at this budget reaches 55-60 %; chance: 10 %


def smoke_width(lab, config):
    """Under the smoke test a 2-layer, 32-wide model: float16 matmuls are slow on a CPU."""
    if not lab.gpu.smoke:
        return config
    return {**config, "d_model": 32, "num_heads": 2, "num_layers": 2, "mlp_dim": 64}


@gpu_check(points=3, minutes=2.0, datasets=("tiny_shakespeare",), uses="transformer",
           task="`MiniGPT` (attention, masks, heads, blocks, `train_step`)",
           hint="the language model is all yours: check the causal mask, the pre-norm "
                "residual blocks, the shift between inputs and targets in next_token_loss, "
                "and scale_loss in train_step")
def minigpt_on_tiny_shakespeare(lab, rng):
    """A 4-layer, 256-wide MiniGPT trained for 2 000 steps on random 128-character windows
    of tiny_shakespeare (mixed precision, XLA): its validation bits per character come
    within 0.1 of the reference's, below 3."""
    import keras
    config = smoke_width(lab, GPT)
    train, valid = lab.gpu.text("tiny_shakespeare", "train"), lab.gpu.text("tiny_shakespeare",
                                                                            "validation")
    chars = sorted(set(train + valid))
    index = {c: i for i, c in enumerate(chars)}
    train_ids = np.array([index[c] for c in train], "int32")
    valid_ids = np.array([index[c] for c in valid], "int32")
    window = config["length"] + 1
    steps = lab.gpu.steps(config["steps"])
    starts = rng.integers(0, len(train_ids) - window, size=steps * config["batch"])
    sequences = train_ids[starts[:, None] + np.arange(window)]
    model = lab.transformer.MiniGPT(len(chars), config["length"], d_model=config["d_model"],
                                    num_heads=config["num_heads"],
                                    num_layers=config["num_layers"], mlp_dim=config["mlp_dim"])
    lab.gpu.compile(model, keras.optimizers.Adam(config["learning_rate"]))
    model.fit(sequences, batch_size=config["batch"], epochs=1, verbose=0)
    # Validation: non-overlapping windows, every position predicting the next character.
    valid_seq = np.stack([valid_ids[s:s + window]
                          for s in range(0, len(valid_ids) - window + 1, window - 1)])
    logits = np.asarray(model.predict(valid_seq[:, :-1], batch_size=128, verbose=0),
                        dtype=np.float64)
    logits -= logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    nats = -np.take_along_axis(log_probs, valid_seq[:, 1:, None], axis=-1).mean()
    return {"valid_bits": float(nats / np.log(2.0)), "vocab": len(chars),
            "smoke": lab.gpu.smoke}


@minigpt_on_tiny_shakespeare.verdict
def _(student, reference):
    what = (f"MiniGPT's validation cross-entropy on tiny_shakespeare (the reference reaches "
            f"{reference['valid_bits']:.3f} bits per character with the same training; "
            f"uniform guessing: {np.log2(reference['vocab']):.2f})")
    expect_at_most(student["valid_bits"], reference["valid_bits"] + GPT_MARGIN_BITS, what,
                   unit=" bits/char")
    if not student["smoke"]:
        expect_at_most(student["valid_bits"], GPT_CEILING_BITS, what, unit=" bits/char")


@gpu_check(points=3, minutes=2.0, datasets=("cifar10",), uses="transformer",
           task="`VisionTransformer` (`PatchEmbedding`, `ClassToken`, blocks)",
           hint="the ViT classifies from the class token at position 0: check the patch "
                "order, the class token prepended, the positions added, and that the blocks "
                "are unmasked")
def vit_on_cifar10(lab, rng):
    """A 4-layer, 128-wide ViT with 4x4 patches trained for 10 epochs on CIFAR-10 (mixed
    precision, XLA): its test accuracy comes within 3 points of the reference's, above
    45 %."""
    import keras
    config = smoke_width(lab, VIT)
    x, y = lab.gpu.images("cifar10", "train", 50_000)
    x_test, y_test = lab.gpu.images("cifar10", "test", 10_000)
    model = lab.transformer.VisionTransformer(
        32, config["patch_size"], 10, channels=3, d_model=config["d_model"],
        num_heads=config["num_heads"], num_layers=config["num_layers"],
        mlp_dim=config["mlp_dim"])
    lab.gpu.compile(model, keras.optimizers.Adam(config["learning_rate"]),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    per_epoch = -(-len(x) // config["batch"])
    steps = lab.gpu.steps(config["epochs"] * per_epoch)
    order = rng.permutation(len(x))
    model.fit(x[order], y[order], batch_size=config["batch"],
              epochs=max(1, steps // per_epoch), steps_per_epoch=min(steps, per_epoch),
              verbose=0)
    logits = np.asarray(model.predict(x_test, batch_size=500, verbose=0), dtype=np.float32)
    return {"accuracy": float((logits.argmax(axis=-1) == y_test).mean()),
            "smoke": lab.gpu.smoke}


@vit_on_cifar10.verdict
def _(student, reference):
    what = (f"the ViT's test accuracy on CIFAR-10 (the reference reaches "
            f"{reference['accuracy']:.3f} with the same training)")
    expect_at_least(student["accuracy"], reference["accuracy"] - VIT_MARGIN, what)
    if not student["smoke"]:
        expect_at_least(student["accuracy"], VIT_FLOOR, what)
