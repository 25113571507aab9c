"""Public checks of lab18_few_shot, part 2: the episodic train_step, run on the checks' own
encoder and a stand-in head (a nearest-neighbour head, probes.nearest_neighbour_head), and
the accuracy of the student's prototypical network on unseen classes, 5-way 1-shot and
5-shot, relative to the reference trained with the same episodes, seed and budget."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import largest_change, snapshot, standing_in
from autograder.checks.lab18_few_shot.probes import (
    encoder,
    episodes,
    glyph_data,
    judge_accuracy,
    nearest_neighbour_head,
    train_and_evaluate,
    training_recorder,
)
from autograder.verdicts import expect_at_least, expect_close, expect_close_naming, expect_true


@check(points=2, uses="fewshot",
       task="`EpisodicClassifier.loss_and_accuracy`, `train_step`",
       hint="loss = -mean(log p(true label)) over the queries of all episodes (tf.shape, not "
       ".shape: the batch size varies); self(x, training=True); scale_loss, gradient of the "
       "scaled loss, optimizer.apply; log the unscaled loss", eager=True)
def train_step_logs(lab, rng):
    """One train_step on a batch of 3 glyph episodes, then one on a batch of 4 (5-way 2-shot,
    3 queries per class), with the checks' encoder and a stand-in nearest-neighbour head: the
    second step's logged loss is the mean NLL of the query labels before it, the logged
    accuracy the fraction of queries right, the weights move, and the model runs with
    training=True."""
    import keras
    train, _, train_classes, _ = glyph_data()
    # A first step on 3 episodes, then the judged one on 4: Keras retraces the second with
    # the batch axis unknown (None), as in the last, smaller batch of an epoch.
    first = episodes(rng, train["images"], train["labels"], train_classes, 3, 5, 2, 3)
    x, y = episodes(rng, train["images"], train["labels"], train_classes, 4, 5, 2, 3)
    fewshot = lab.fewshot
    recorder = training_recorder()
    with standing_in(fewshot, episode_log_probs=nearest_neighbour_head):
        model = fewshot.EpisodicClassifier(encoder(1, recorder), 5, "prototypical")
        model.compile(keras.optimizers.SGD(0.05))
        model(first[0])   # built outside the step: the flags recorded are train_step's own
        del recorder.seen[:]
        model.train_on_batch(*first)
        model.reset_metrics()
        flags = list(recorder.seen)
        net = model.encoder
        embed = [np.asarray(net(np.asarray(p).reshape(-1, 12, 12, 1))).reshape(4, -1, 32)
                 for p in (x[0], x[2])]
        log_probs = np.asarray(nearest_neighbour_head(embed[0], x[1], embed[1], 5))
        before = snapshot(net.trainable_weights)
        del recorder.seen[:]
        logs = model.train_on_batch(x, y, return_dict=True)
        flags += recorder.seen
        moved = largest_change(before, net.trainable_weights)
    picked = np.take_along_axis(log_probs, y[..., None], axis=-1)[..., 0]
    return {"loss": float(logs["loss"]), "accuracy": float(logs["accuracy"]), "moved": moved,
            "training_flags": ", ".join(sorted(set(flags))),
            "nll": float(-picked.mean()), "nll_sum": float(-picked.sum(-1).mean()),
            "right": float((log_probs.argmax(-1) == y).mean())}


@train_step_logs.verdict
def _(student, reference):
    what = "the loss that EpisodicClassifier.train_step logs"
    expect_close_naming(student["loss"], student["nll"], what,
                        [(student["nll_sum"], "the NLL SUMMED over each episode's queries: "
                          "take the mean over every query of every episode"),
                         (-student["nll"], "its sign is flipped: minimise MINUS the "
                          "log-probability of the true label")],
                        against="the mean query NLL before the step", rtol=1e-4, atol=1e-5)
    expect_close(student["accuracy"], student["right"], "the accuracy that train_step logs",
                 against="the fraction of queries whose argmax is the true label", atol=1e-6)
    expect_true(student["training_flags"] == "True",
                "train_step must run the model in training mode: the encoder's layers were "
                f"called with training={student['training_flags']} during train_step: "
                "log_probs = self(x, training=True), so dropout and batch normalisation train")
    expect_at_least(student["moved"], 1e-6,
                    "the largest change of an encoder weight after one train_step")
    expect_close(student["moved"], reference["moved"],
                 "the largest change of an encoder weight after one SGD step", rtol=1e-3,
                 atol=1e-6)


@check(points=4, uses="fewshot", timeout=90,
       task="`prototypes`, `prototypical_logits`, `episode_log_probs`, `train_step`",
       hint="a prototypical network trained on episodes of the training classes must classify "
       "queries of unseen classes well above chance (0.2)")
def prototypical_network_learns(lab, rng):
    """Your EpisodicClassifier (prototypical head, the checks' encoder) trained on 160
    episodes of the training classes, then 5-way 1-shot and 5-shot accuracy on 100 episodes
    of the held-out classes: within 0.08 of the reference's, and above 0.3."""
    return train_and_evaluate(lab, rng, "prototypical")


@prototypical_network_learns.verdict
def _(student, reference):
    judge_accuracy(student, reference, "EpisodicClassifier(head='prototypical')")
