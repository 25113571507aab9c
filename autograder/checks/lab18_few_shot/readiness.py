"""GPU-readiness checks of lab18_few_shot: they run on a CPU too (see autograder/readiness.py).
The student's EpisodicClassifier (prototypical head) with a small dense encoder, trained on
batches of random 3-way 1-shot episodes under XLA and float16."""
import numpy as np

from autograder import readiness
from autograder.api import check


def _build(lab):
    import keras

    def build():
        encoder = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(),
                                    keras.layers.Dense(16, activation="relu"),
                                    keras.layers.Dense(8)])
        return lab.fewshot.EpisodicClassifier(encoder, 3, "prototypical")
    return build


def _episodes(rng, n: int = 64):
    support = rng.uniform(size=(n, 3, 12, 12, 1)).astype("float32")
    query = (support + rng.normal(scale=0.3, size=support.shape)).astype("float32")
    labels = np.tile(np.arange(3, dtype="int32"), (n, 1))
    return (support, labels, query), labels


(episodic_trains_with_xla, episodic_trains_in_mixed_precision,
 _traces_of_sliced_arrays) = readiness.checks_for(
    __name__, "episodic", build=_build, data=_episodes, uses=("fewshot",),
    task="`EpisodicClassifier.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape; log the unscaled loss")
del _traces_of_sliced_arrays   # replaced below


# The engine's retracing probe slices x[:size], which a tuple of three inputs does not
# allow; this one slices each input, then counts the traces the same way.
@check(1, reference=False, uses=("fewshot",), task="`EpisodicClassifier.train_step`",
       hint="use tf.shape(x)[0] for the number of episodes, not x.shape[0]: the last batch "
       "is smaller")
def episodic_train_step_traces_at_most_twice(lab, rng):
    """GPU readiness: `fit` over five batch sizes traces `train_step` at most twice."""
    sizes = (32, 24, 16, 8, 5)
    model = _build(lab)()
    readiness.compile_with_adam(model)
    (support, labels, query), y = _episodes(rng)
    before = [np.array(v.numpy()) for v in model.trainable_variables]
    traces = [0]
    original = model.train_step

    def counted(batch):
        traces[0] += 1   # Python runs only while TensorFlow traces the step
        return original(batch)
    model.train_step = counted
    for size in sizes:
        model.fit((support[:size], labels[:size], query[:size]), y[:size], batch_size=size,
                  epochs=1, verbose=0, shuffle=False)
    moved = any(not np.array_equal(b, a.numpy()) for b, a in
                zip(before, model.trainable_variables))
    return {"traces": traces[0], "sizes": list(sizes), "weights_moved": moved}


@episodic_train_step_traces_at_most_twice.verdict
def _(student, reference):
    readiness.judge_traces(student)
