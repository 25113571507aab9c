"""GPU checks of lab05_cnn (autograder/gpu.py): the student's networks at a real scale,
judged against the reference trained the same way.

- small_resnet of the student's ResidualBlocks, three stages of two blocks, on CIFAR-10:
  test accuracy;
- the student's build_unet, depth 3, segmenting 64x64 procedural shapes (dlkit.data's
  make_shapes, 8 000 of them with pixel noise): mean mask IoU on held-out shapes.
"""
from autograder.check_helpers import mean_mask_iou
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# ResNet: a stem and 6 ResidualBlocks of 32, 64, 128 filters (3x3 convolutions at 32x32,
# 16x16 and 8x8): about 105 M multiply-adds per image forward, 0.63 GFLOP per training
# example. 10 epochs of the 50 000 images in batches of 128: 3 900 steps, about 315 TFLOP,
# ~50 s at 10 % of a T4, and the BatchNormalizations (memory bound) add half as much; plus
# the compile and reading CIFAR-10.
RESNET_WIDTHS, RESNET_BLOCKS = (32, 64, 128), 2
RESNET_EPOCHS, RESNET_BATCH, RESNET_LR = 10, 128, 2e-3
RESNET_MARGIN = 0.03
RESNET_FLOOR = 0.70   # such a ResNet reaches about 0.8 in 10 epochs without augmentation

# U-Net: depth 3, 16 to 128 filters on 64x64 images, about 100 M multiply-adds forward, 0.6
# GFLOP per training example. 10 epochs of 8 000 shapes in batches of 64: 1 250 steps,
# about 50 TFLOP, ~10 s at 10 % of a T4; drawing the shapes and the compile cost as much.
UNET = {"size": 64, "base_filters": 16, "depth": 3}
UNET_SHAPES, UNET_TEST, UNET_NOISE = 8_000, 1_000, 0.1
UNET_EPOCHS, UNET_BATCH, UNET_LR = 10, 64, 2e-3
UNET_MARGIN = 0.03
UNET_FLOOR = 0.85     # the depth-1 U-Net of the public check already reaches ~0.9 on 16x16


@gpu_check(points=3, minutes=2.5, datasets=("cifar10",), uses="networks",
           task="`ResidualBlock`, `small_resnet`",
           hint="small_resnet((32, 32, 3), 10, (32, 64, 128), 2) trained on CIFAR-10 in mixed "
                "precision: check the blocks' strides, the projection shortcut and that the "
                "head returns logits")
def resnet_on_cifar10(lab, rng):
    """`small_resnet((32, 32, 3), 10, widths=(32, 64, 128), blocks_per_stage=2)` trained
    for 10 epochs of CIFAR-10 with Adam under cosine decay (mixed precision, XLA): its test
    accuracy comes within 3 points of the reference's, above 70 %."""
    import keras
    import numpy as np
    x, y = lab.gpu.images("cifar10", "train", 50_000)
    x_test, y_test = lab.gpu.images("cifar10", "test", 10_000)
    # The smoke test runs on a CPU, where float16 convolutions are slow: a narrower,
    # shallower ResNet keeps it in seconds.
    widths, blocks = ((4, 8), 1) if lab.gpu.smoke else (RESNET_WIDTHS, RESNET_BLOCKS)
    model = lab.networks.small_resnet((32, 32, 3), 10, widths=widths, blocks_per_stage=blocks)
    steps = lab.gpu.steps(RESNET_EPOCHS * len(x) // RESNET_BATCH)
    schedule = keras.optimizers.schedules.CosineDecay(RESNET_LR, steps)
    lab.gpu.compile(model, keras.optimizers.Adam(schedule),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    lab.gpu.fit(model, x, y, epochs=RESNET_EPOCHS, batch=RESNET_BATCH)
    logits = lab.gpu.outputs(model, x_test)
    return {"accuracy": float(np.mean(np.argmax(logits, axis=1) == y_test)),
            "smoke": lab.gpu.smoke}


@resnet_on_cifar10.verdict
def _(student, reference):
    expect_at_least(student["accuracy"], reference["accuracy"] - RESNET_MARGIN,
                    f"test accuracy on CIFAR-10 of small_resnet (the reference reaches "
                    f"{reference['accuracy']:.3f} with the same training; look at "
                    "ResidualBlock's shortcut and strides and at small_resnet's stages)")
    if not student["smoke"]:
        expect_at_least(student["accuracy"], RESNET_FLOOR, "test accuracy on CIFAR-10")


@gpu_check(points=2, minutes=1.0, uses="networks", task="`build_unet`",
           hint="build_unet(64, 1, 16, depth=3) trained on noisy 64x64 shapes: check the "
                "skips (one Concatenate per level, the encoder's feature before pooling) and "
                "the transposed convolutions' strides")
def unet_on_large_shapes(lab, rng):
    """`build_unet(size=64, base_filters=16, depth=3)` trained for 10 epochs on 8 000 noisy
    64x64 shapes (mixed precision, XLA): its mean mask IoU on 1 000 held-out shapes comes
    within 0.03 of the reference's, above 0.85."""
    import keras

    from dlkit.data import make_shapes
    seed = int(rng.integers(1 << 20))
    # The smoke test runs on a CPU, where float16 convolutions are slow: a depth-1 U-Net on
    # 16x16 shapes keeps it in seconds.
    unet = {"size": 16, "base_filters": 4, "depth": 1} if lab.gpu.smoke else UNET
    train = make_shapes(lab.gpu.examples(UNET_SHAPES), size=unet["size"], seed=seed,
                        noise=UNET_NOISE)
    test = make_shapes(lab.gpu.examples(UNET_TEST), size=unet["size"], seed=seed + 1,
                       noise=UNET_NOISE)
    model = lab.networks.build_unet(channels=1, **unet)
    lab.gpu.compile(model, keras.optimizers.Adam(UNET_LR),
                    loss=keras.losses.BinaryCrossentropy(from_logits=True))
    lab.gpu.fit(model, train["images"], train["masks"], epochs=UNET_EPOCHS, batch=UNET_BATCH)
    logits = lab.gpu.outputs(model, test["images"])
    iou = mean_mask_iou(logits > 0, test["masks"]) if logits.shape == test["masks"].shape else 0.0
    return {"mean_iou": float(iou), "shape": list(logits.shape), "smoke": lab.gpu.smoke}


@unet_on_large_shapes.verdict
def _(student, reference):
    expect_at_least(student["mean_iou"], reference["mean_iou"] - UNET_MARGIN,
                    f"mean mask IoU of the U-Net on held-out 64x64 shapes (output shape "
                    f"{tuple(student['shape'])}; the reference reaches "
                    f"{reference['mean_iou']:.3f} with the same training; look at the skips "
                    "and the decoder's upsampling)")
    if not student["smoke"]:
        expect_at_least(student["mean_iou"], UNET_FLOOR, "mean mask IoU on 64x64 shapes")
