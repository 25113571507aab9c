"""Hidden checks of lab18_few_shot: the heads and MAML on fresh shapes and sizes, against the
solution run live; the student's matching network trained on episodes and judged on unseen
classes."""
import numpy as np

from autograder.api import check
from autograder.checks.lab18_few_shot.probes import (
    flat_gradients,
    judge_accuracy,
    judge_no_none_gradient,
    train_and_evaluate,
)
from autograder.verdicts import expect_close


@check(points=1, uses="fewshot", hint="the heads must work for any N, K, D and batch shape")
def heads_other_shapes(lab, rng):
    n, k, d = int(rng.integers(2, 6)), int(rng.integers(1, 4)), int(rng.integers(2, 9))
    support = rng.normal(size=(3, n * k, d)).astype("float32")
    support_y = np.stack([rng.permutation(np.repeat(np.arange(n), k)) for _ in range(3)])
    query = rng.normal(size=(3, 7, d)).astype("float32")
    fewshot = lab.fewshot
    out = {"distances": np.asarray(fewshot.squared_distances(query, support)),
           "prototypes": np.asarray(fewshot.prototypes(support, support_y, n))}
    for head in ("prototypical", "matching"):
        out[head] = np.asarray(fewshot.episode_log_probs(support, support_y, query, n, head))
    distance = rng.uniform(0, 2, size=9).astype("float32")
    same = rng.integers(0, 2, size=9).astype("float32")
    out["contrastive"] = np.asarray(fewshot.contrastive_loss(distance, same, margin=0.7))
    return out


@heads_other_shapes.verdict
def _(student, reference):
    for key in ("distances", "prototypes", "prototypical", "matching", "contrastive"):
        expect_close(student[key], reference[key], f"{key} on fresh shapes", atol=1e-5)


@check(points=1, uses="maml", timeout=60, hint="MAML through several inner steps, any model")
def maml_mlp_several_steps(lab, rng):
    import tensorflow as tf
    maml = lab.maml
    params = maml.mlp_params((1, 8, 8, 1), seed=int(rng.integers(100)))
    from dlkit.data import sinusoid_tasks
    data = sinusoid_tasks(3, 12, seed=int(rng.integers(1000)))
    tasks = [(data["x"][t, :6], data["y"][t, :6], data["x"][t, 6:], data["y"][t, 6:])
             for t in range(3)]
    out = {}
    for first_order in (False, True):
        loss, grads = maml.maml_meta_gradient(maml.mlp_forward, maml.mse, params, tasks, 0.02, 3,
                                              first_order)
        out[f"loss_{first_order}"] = np.asarray(loss)
        out[f"grad_{first_order}"], out[f"grad_{first_order}_none"] = flat_gradients(grads,
                                                                                    params)
    new = maml.reptile_update(maml.mlp_forward, maml.mse, params, tasks[0][0], tasks[0][1],
                              0.02, 3, 0.5)
    out["reptile"] = np.concatenate([np.ravel(tf.convert_to_tensor(p)) for p in new])
    return out


@maml_mlp_several_steps.verdict
def _(student, reference):
    for first_order in (False, True):
        judge_no_none_gradient(student, f"grad_{first_order}",
                               f"maml_meta_gradient(first_order={first_order})")
    for key in ("loss_False", "grad_False", "loss_True", "grad_True", "reptile"):
        expect_close(student[key], reference[key], f"{key} on a 1-8-8-1 MLP, 3 inner steps",
                     rtol=1e-3, atol=1e-5)


@check(points=3, uses="fewshot", timeout=90, hint="the matching network must learn too")
def matching_network_learns(lab, rng):
    return train_and_evaluate(lab, rng, "matching")


@matching_network_learns.verdict
def _(student, reference):
    judge_accuracy(student, reference, "EpisodicClassifier(head='matching')")
