"""GPU checks of lab18_few_shot (autograder/gpu.py): the student's prototypical network
(EpisodicClassifier: its train_step, prototypes and logits) trained episodically on 20-way
episodes of the glyphs' training classes with a wider encoder and ten times the data of the
CPU check, and judged by its 5-way accuracy on the held-out classes against the reference's."""
import numpy as np

from autograder.checks.lab18_few_shot.probes import episodes
from autograder.gpu import gpu_check
from autograder.verdicts import expect_at_least, expect_finite

# 2 000 steps of 8 episodes, 20-way 5-shot with 15 queries a class: 3 200 glyphs a step
# through glyph_encoder(64, filters=64), about 9 MFLOP each forward and backward, so
# ~30 GFLOP a step and ~60 TFLOP in all: well under a minute on a T4, plus the compile
# and drawing the 12 800 glyphs on the CPU (a few seconds).
STEPS, EPISODES_PER_STEP, LEARNING_RATE = 2_000, 8, 1e-3
TRAIN_WAY, TRAIN_SHOT, QUERIES = 20, 5, 15
PER_CLASS = 200       # glyphs drawn of each class (the CPU check draws 10)
TEST_EPISODES = 600   # 5-way episodes of the held-out classes, at 1 and 5 shots
MARGIN = 0.03         # accuracy within 3 points of the reference's
FLOORS = {1: 0.6, 5: 0.8}   # and well above chance (0.2) at full budget


def _episode_data(lab, index_rng, data, classes, count, n_way, k_shot):
    """Episodes as indices into data["images"] (the checks' own sampler, probes.episodes)."""
    index = np.arange(len(data["labels"]))[:, None]
    (support, support_y, query), query_y = episodes(index_rng, index, data["labels"], classes,
                                                    count, n_way, k_shot, QUERIES)
    return support[..., 0], support_y, query[..., 0], query_y


@gpu_check(points=3, minutes=1.5, uses="fewshot",
           task="`EpisodicClassifier.train_step`, `prototypes`, `prototypical_logits`",
           hint="a prototypical network trained on 20-way glyph episodes must classify 5-way "
                "episodes of unseen classes as well as the reference: check the squared "
                "distances in float32 under mixed precision and the episodic train_step")
def prototypical_network_at_scale(lab, rng):
    """Your EpisodicClassifier (prototypical head) on glyph_encoder(64, filters=64), trained
    for 2000 steps of 8 episodes, 20-way 5-shot, on 200 glyphs of each training class (mixed
    precision, XLA); 5-way 1-shot and 5-shot accuracy over 600 episodes of the held-out
    classes: within 3 points of the reference's, and above 0.6 and 0.8."""
    import keras
    import tensorflow as tf

    from dlkit.data import glyph_classes, make_glyphs
    per_class = max(lab.gpu.examples(PER_CLASS * 48) // 48, TRAIN_SHOT + QUERIES)
    train = make_glyphs(per_class, split="train", seed=0)
    test = make_glyphs(per_class, split="test", seed=1)
    steps = lab.gpu.steps(STEPS)
    support, support_y, query, query_y = _episode_data(
        lab, np.random.default_rng(0), train, glyph_classes("train"),
        steps * EPISODES_PER_STEP, TRAIN_WAY, TRAIN_SHOT)
    images = tf.constant(train["images"])
    # Episodes are gathered on the fly: the 16 000 of them would take 4 GB as images.
    data = (tf.data.Dataset.from_tensor_slices(((support, support_y, query), query_y))
            .batch(EPISODES_PER_STEP)
            .map(lambda x, y: ((tf.gather(images, x[0]), x[1], tf.gather(images, x[2])), y))
            .prefetch(4))
    # float16 convolutions are slow on a CPU: the smoke test shrinks the encoder 16 times.
    filters = 4 if lab.gpu.smoke else 64
    model = lab.fewshot.EpisodicClassifier(lab.fewshot.glyph_encoder(64, filters=filters),
                                           TRAIN_WAY, "prototypical")
    lab.gpu.compile(model, keras.optimizers.Adam(LEARNING_RATE))
    history = model.fit(data, epochs=1, verbose=0)
    out = {"loss": float(history.history["loss"][-1]), "smoke": lab.gpu.smoke}
    five_way = lab.fewshot.EpisodicClassifier(model.encoder, 5, "prototypical")
    for k in (1, 5):
        s, sy, q, qy = _episode_data(lab, np.random.default_rng(k), test,
                                     glyph_classes("test"), lab.gpu.examples(TEST_EPISODES), 5, k)
        right = []
        for i in range(0, len(s), 100):   # called eagerly, 100 episodes at a time
            log_probs = np.asarray(five_way((test["images"][s[i:i + 100]], sy[i:i + 100],
                                          test["images"][q[i:i + 100]])), "float32")
            right.append(log_probs.argmax(-1) == qy[i:i + 100])
        out[f"accuracy_{k}shot"] = float(np.concatenate(right).mean())
    return out


@prototypical_network_at_scale.verdict
def _(student, reference):
    expect_finite(student["loss"], "the training loss of the prototypical network on 20-way "
                  "episodes (mixed precision: compute the distances in float32)")
    for k in (1, 5):
        key = f"accuracy_{k}shot"
        what = (f"5-way {k}-shot accuracy on the held-out glyph classes (chance 0.2, the "
                f"reference {reference[key]:.3f} after the same training)")
        expect_at_least(student[key], reference[key] - MARGIN, what)
        if not student["smoke"]:
            expect_at_least(student[key], FLOORS[k], what)
