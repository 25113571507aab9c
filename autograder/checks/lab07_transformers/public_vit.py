"""Public checks of lab07_transformers, part 3: the Vision Transformer's layers, its call
(with stand-in blocks, against the reference's on the same), its training on procedural
shapes, and the .keras round trips of both models."""
import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import assign_random_weights
from autograder.checks.lab07_transformers.probes import (
    cross_entropy_np,
    judge_patches,
    patch_probe,
    small_gpt,
)
from autograder.checks.lab07_transformers.standins import standin_blocks, with_blocks
from autograder.verdicts import expect_at_least, expect_close, expect_shape, expect_true

# ---------------------------------------------------------------------------------------------
# 6. The Vision Transformer
# ---------------------------------------------------------------------------------------------


@check(points=2, task="`PatchEmbedding.call`",
       hint="self.projection(images) is (N, H/p, W/p, d_model): reshape it to (N, P, d_model), "
            "rows of patches one after the other")
def patch_embedding(lab, rng):
    """On (2, 8, 12, 3) images with random weights, against the reference's (patches in
    row order)."""
    return patch_probe(lab, rng, batch=2, height=8, width=12, channels=3, patch_size=4,
                       d_model=5)


@patch_embedding.verdict
def _(student, reference):
    judge_patches(student, reference)


@check(points=1, reference=False, task="`ClassToken.call`",
       hint="tf.tile the (1, 1, D) token to (N, 1, D) with N = tf.shape(x)[0]; "
            "tf.concat([token, x], axis=1)")
def class_token(lab, rng):
    """The token at position 0, the sequence after it, for a batch of 3 and of 1."""
    layer = lab.transformer.ClassToken()
    x = rng.normal(size=(3, 5, 6)).astype("float32")
    layer.build(x.shape)
    token = rng.normal(size=(1, 1, 6)).astype("float32")
    layer.token.assign(token)
    return {"x": x, "token": token, "out": layer(x), "single": layer(x[:1])}


@class_token.verdict
def _(student, _reference):
    out = expect_shape(student["out"], (3, 6, 6), "ClassToken()(x (3, 5, 6))")
    token, x = np.asarray(student["token"]), np.asarray(student["x"])
    expect_close(out[:, 0], np.broadcast_to(token[0], (3, 6)),
                 "position 0 of ClassToken()(x): every example's must be the class token")
    expect_close(out[:, 1:], x, "positions 1.. of ClassToken()(x): the input sequence")
    expect_shape(student["single"], (1, 6, 6), "ClassToken()(x) for a batch of 1")


@check(points=2, task="`VisionTransformer.call`",
       hint="call: patch_embedding, class_token, position_embedding, every block (no mask), "
            "then head(final_norm(x[:, 0])): the class token's output, normalised")
def vit_logits(lab, rng):
    """With two stand-in blocks (a residual masked mean, not attention) and random weights:
    the logits against the reference's on the same."""
    blocks = standin_blocks(rng, 2, 8, 5)
    vit = with_blocks(lab.transformer.VisionTransformer, blocks)(
        8, 4, 3, d_model=8, num_heads=2, num_layers=2, mlp_dim=16)
    assign_random_weights(vit, rng, scale=0.5)
    images = rng.random((3, 8, 8, 1)).astype("float32")

    def through_blocks(x):
        for block in blocks:
            x = block(x)
        return np.asarray(x)

    patches = vit.patch_embedding(images)
    h = through_blocks(vit.position_embedding(vit.class_token(patches)))
    late_positions = through_blocks(vit.class_token(vit.position_embedding(patches)))
    return {"logits": vit(images), "last_token": vit.head(vit.final_norm(h[:, -1])),
            "no_final_norm": vit.head(h[:, 0]),
            "mean_pooled": vit.head(vit.final_norm(h.mean(axis=1))),
            "positions_before_token": vit.head(vit.final_norm(late_positions[:, 0]))}


@vit_logits.verdict
def _(student, reference):
    what = "VisionTransformer(8, 4, 3, d_model=8)(images (3, 8, 8, 1)) with stand-in blocks"
    logits = expect_shape(student["logits"], (3, 3), what)
    for variant, mistake in (
            ("last_token", "it classifies the LAST token; the class token is at position 0"),
            ("mean_pooled", "it classifies the mean over the tokens; this ViT classifies the "
                            "class token, x[:, 0]"),
            ("no_final_norm", "final_norm is skipped: logits = head(final_norm(x[:, 0]))"),
            ("positions_before_token", "the positions are added before the class token is "
                                       "prepended: the class token has a position too "
                                       "(position_embedding(class_token(patches)))")):
        expect_true(not np.allclose(logits, student[variant], rtol=1e-3, atol=1e-4),
                    f"{what}: {mistake}")
    expect_close(logits, reference["logits"], f"{what} (the same for the reference), with "
                 "the reference's weights", rtol=1e-3, atol=1e-4)


@check(points=1, reference=False, task="every layer's `build`",
       hint="every layer's build creates its weights from the input shape; the given "
            "get_config lists the constructor arguments")
def models_save_and_reload(lab, rng):
    """A MiniGPT and a ViT reload from `.keras` with the same outputs."""
    import keras
    gpt = small_gpt(lab, rng, num_layers=1)
    vit = lab.transformer.VisionTransformer(8, 4, 3, d_model=8, num_heads=2, num_layers=1,
                                            mlp_dim=16)
    assign_random_weights(vit, rng)
    tokens = rng.integers(0, 7, size=(2, 8)).astype("int32")
    images = rng.random((2, 8, 8, 1)).astype("float32")
    out = {}
    for name, model, inputs in (("MiniGPT", gpt, tokens), ("VisionTransformer", vit, images)):
        path = str(lab.tmpdir / f"{name}.keras")
        model.save(path)
        try:
            loaded = keras.saving.load_model(path)
        except Exception as error:  # the message goes to the student
            out[f"{name}_error"] = f"{type(error).__name__}: {error}"[:600]
            continue
        out[f"{name}_error"] = ""
        out[f"{name}_out"], out[f"{name}_loaded"] = model(inputs), loaded(inputs)
    return out


@models_save_and_reload.verdict
def _(student, _reference):
    for name in ("MiniGPT", "VisionTransformer"):
        if student[f"{name}_error"]:
            raise CheckFailed(f"keras.saving.load_model could not rebuild the saved {name}: "
                              + student[f"{name}_error"])
        expect_close(student[f"{name}_loaded"], student[f"{name}_out"],
                     f"the outputs of a {name} after a .keras save and load")


VIT_TRAIN = {"image_size": 16, "patch_size": 4, "d_model": 32, "num_heads": 2,
             "num_layers": 1, "mlp_dim": 64, "train_images": 800, "test_images": 500,
             "epochs": 5, "batch_size": 40, "learning_rate": 3e-3,
             "shapes": {"min_scale": 0.5, "max_scale": 0.9}}
# How far below the reference's held-out accuracy a student ViT may end up. Over training
# seeds the reference lands between 59 % and 65 % (chance: 33 %).
VIT_MARGIN = 0.1


@check(points=2, timeout=40, task="the whole `VisionTransformer`",
       hint="every piece of the ViT at once: if this is the only ViT check that fails, look "
            "for a layer that does not pass its gradient (numpy inside call, a weight created "
            "with trainable=False)")
def vit_trains_on_shapes(lab, rng):
    """Held-out accuracy on circles, squares and triangles after 5 epochs at most 10 points
    below the reference's."""
    import keras

    from dlkit.data import make_shapes
    budget = VIT_TRAIN
    seed = int(rng.integers(1 << 30))
    size = budget["image_size"]
    train = make_shapes(budget["train_images"], size=size, seed=seed, **budget["shapes"])
    test = make_shapes(budget["test_images"], size=size, seed=seed + 1, **budget["shapes"])
    model = lab.transformer.VisionTransformer(size, budget["patch_size"], 3,
                                              d_model=budget["d_model"],
                                              num_heads=budget["num_heads"],
                                              num_layers=budget["num_layers"],
                                              mlp_dim=budget["mlp_dim"])
    model.compile(optimizer=keras.optimizers.Adam(budget["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  steps_per_execution=budget["train_images"] // budget["batch_size"])
    model.fit(train["images"], train["labels"], batch_size=budget["batch_size"],
              epochs=budget["epochs"], shuffle=True, verbose=0)
    logits = np.asarray(model(test["images"]))   # one eager call: no predict() to trace
    return {"accuracy": float(np.mean(logits.argmax(axis=-1) == test["labels"])),
            "loss": cross_entropy_np(logits[:, None], test["labels"][:, None])[0]}


@vit_trains_on_shapes.verdict
def _(student, reference):
    if not np.isfinite(student["loss"]):
        raise CheckFailed(f"after training, the held-out loss is {student['loss']}: the "
                          "training diverged")
    where = (f"held-out accuracy {student['accuracy']:.1%} (loss {student['loss']:.3f}); the "
             f"reference reaches {reference['accuracy']:.1%} (loss {reference['loss']:.3f})")
    expect_at_least(student["accuracy"], reference["accuracy"] - VIT_MARGIN,
                    f"after training on circles, squares and triangles, the {where}; the "
                    "held-out accuracy")
