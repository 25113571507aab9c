"""GPU-readiness checks of lab18_few_shot: they run on a CPU too (see autograder/readiness.py).
The student's EpisodicClassifier (prototypical head) with a small dense encoder, trained on
batches of random 3-way 1-shot episodes under XLA and float16."""
import numpy as np

from autograder import readiness


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
 episodic_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "episodic", build=_build, data=_episodes, uses=("fewshot",),
    task="`EpisodicClassifier.train_step`",
    scale_hint="scaled = self.optimizer.scale_loss(loss) inside the tape; log the unscaled loss",
    trace_hint="use tf.shape(x)[0] for the number of episodes, not x.shape[0]: the last batch "
    "is smaller")
