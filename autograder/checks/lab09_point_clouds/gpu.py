"""GPU checks of lab09_point_clouds (autograder/gpu.py): the student's PointNetClassifier (T-Net,
orthogonality loss, train_step) at the paper's width on 8 000 clouds of 512 points rotated
every way, judged by its test accuracy, and their PointNetSegmenter on the parts of such
clouds rotated about the up axis, judged by its part mean IoU; both against the reference's trained the same way. No
TFDS data: dlkit.data's make_point_clouds at a GPU's size."""
import numpy as np

from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least

# 8 000 training clouds (1 000 test) of 512 points; 20 epochs in batches of 64: 2 500 Adam
# steps. The classifier's clouds are rotated uniformly over SO(3), so that the T-Net has
# work to do; the segmenter's (no T-Net) about the up axis only, as in the handout.
DATA = {"train": 8_000, "test": 1_000, "num_points": 512, "batch": 64, "epochs": 20,
        "learning_rate": 1e-3}
# PointNet's own widths: 3-64-128-1024 per point (T-Net 32-64), head 512-256: about
# 0.45 GFLOP a cloud trained, 30 GFLOP a step, 70 TFLOP in all: about a minute.
CLASSIFIER = {"widths": (64, 128, 1024), "head_units": (512, 256)}
CLASSIFIER_MARGIN = 0.02   # test accuracy within 2 points of the reference's
CLASSIFIER_FLOOR = 0.9     # five shapes; chance: 0.2
# 3-64-128-256 per point, then 512-256-128-11 on [local, global]: about 0.6 GFLOP a cloud
# trained, 40 GFLOP a step, 100 TFLOP in all.
SEGMENTER = {"widths": (64, 128, 256), "head_units": (256, 128)}
SEGMENTER_MARGIN = 0.03    # part mean IoU within 3 points of the reference's
SEGMENTER_FLOOR = 0.5      # 11 parts; the global feature tells caps from bases


def clouds(lab, rng, rotate):
    """Training and test clouds; under the smoke test 64 points (512 in float16 are slow on
    a CPU)."""
    from dlkit.data import make_point_clouds
    seed = int(rng.integers(0, 1000))
    points = 64 if lab.gpu.smoke else DATA["num_points"]
    options = {"num_points": points, "rotate": rotate}
    return (make_point_clouds(lab.gpu.examples(DATA["train"]), seed=seed, **options),
            make_point_clouds(lab.gpu.examples(DATA["test"]), seed=seed + 1, **options))


def narrow(lab, config):
    """Under the smoke test 16-wide layers: float16 matmuls are slow on a CPU."""
    if not lab.gpu.smoke:
        return config
    return {"widths": (16, 16), "head_units": (16,)}


def fit(lab, model, x, y, rng):
    per_epoch = -(-len(x) // DATA["batch"])
    steps = lab.gpu.steps(DATA["epochs"] * per_epoch)
    order = rng.permutation(len(x))
    return model.fit(x[order], y[order], batch_size=DATA["batch"],
                     epochs=max(1, steps // per_epoch), steps_per_epoch=min(steps, per_epoch),
                     verbose=0).history


@gpu_check(points=3, minutes=2.0, uses="pointnet",
           task="`PointNetClassifier` (`TNet`, `orthogonality_loss`, `train_step`)",
           hint="the clouds are rotated every way: the T-Net's transform must multiply the "
                "points, and train_step minimise classification_loss (with the orthogonality "
                "term) through scale_loss")
def pointnet_classifier_at_scale(lab, rng):
    """PointNetClassifier with PointNet's widths (3-64-128-1024, head 512-256) trained with
    your train_step for 20 epochs on 8 000 clouds of 512 points rotated every way (mixed
    precision, XLA): its test accuracy comes within 2 points of the reference's, above
    90 %."""
    import keras
    train, test = clouds(lab, rng, "any")
    config = narrow(lab, CLASSIFIER)
    model = lab.pointnet.PointNetClassifier(5, widths=config["widths"],
                                            head_units=config["head_units"],
                                            num_points=train["points"].shape[1])
    lab.gpu.compile(model, keras.optimizers.Adam(DATA["learning_rate"]))
    history = fit(lab, model, train["points"], train["labels"], rng)
    logits = np.asarray(model.predict(test["points"], batch_size=256, verbose=0), np.float32)
    return {"accuracy": float((logits.argmax(axis=-1) == test["labels"]).mean()),
            "loss": float(history["loss"][-1]), "smoke": lab.gpu.smoke}


@pointnet_classifier_at_scale.verdict
def _(student, reference):
    what = (f"PointNetClassifier's test accuracy on clouds rotated every way (the reference "
            f"reaches {reference['accuracy']:.3f} with the same training; final training "
            f"loss {student['loss']:.3g}, the reference's {reference['loss']:.3g})")
    expect_at_least(student["accuracy"], reference["accuracy"] - CLASSIFIER_MARGIN, what)
    if not student["smoke"]:
        expect_at_least(student["accuracy"], CLASSIFIER_FLOOR, what)


def mean_iou(parts, predicted):
    """The check's own part mean IoU, by scikit-learn: the Jaccard index of each part in the
    labels or the predictions, averaged."""
    from sklearn.metrics import jaccard_score
    parts, predicted = np.ravel(parts), np.ravel(predicted)
    return float(jaccard_score(parts, predicted, labels=np.union1d(parts, predicted),
                               average="macro"))


@gpu_check(points=2, minutes=2.0, uses="pointnet", task="`PointNetSegmenter`",
           hint="each point's logits come from its local feature AND the cloud's max-pooled "
                "global feature, tiled over the points and concatenated after the local one")
def pointnet_segmenter_at_scale(lab, rng):
    """PointNetSegmenter (3-64-128-256, head 256-128) trained for 20 epochs on the parts of
    8 000 clouds of 512 points rotated about the up axis (mixed precision, XLA): its part
    mean IoU on 1 000 test clouds comes within 3 points of the reference's, above 0.5."""
    import keras
    train, test = clouds(lab, rng, "z")
    config = narrow(lab, SEGMENTER)
    model = lab.pointnet.PointNetSegmenter(11, widths=config["widths"],
                                           head_units=config["head_units"])
    lab.gpu.compile(model, keras.optimizers.Adam(DATA["learning_rate"]),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    fit(lab, model, train["points"], train["parts"], rng)
    logits = np.asarray(model.predict(test["points"], batch_size=256, verbose=0), np.float32)
    return {"miou": mean_iou(test["parts"], logits.argmax(axis=-1)), "smoke": lab.gpu.smoke}


@pointnet_segmenter_at_scale.verdict
def _(student, reference):
    what = (f"PointNetSegmenter's part mean IoU on test clouds (the reference reaches "
            f"{reference['miou']:.3f} with the same training): look at how the global "
            "feature reaches every point")
    expect_at_least(student["miou"], reference["miou"] - SEGMENTER_MARGIN, what)
    if not student["smoke"]:
        expect_at_least(student["miou"], SEGMENTER_FLOOR, what)
