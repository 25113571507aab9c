"""Public checks of lab24_information, part 2: the InfoNCE and Donsker-Varadhan bounds
against Keras's cross-entropy and scipy's logsumexp; InfoNCEEstimator.train_step run on the
checks' stand-in bound against tf.GradientTape; one relative training check on correlated
Gaussians with a known mutual information."""
import numpy as np

from autograder.api import check
from autograder.check_helpers import assign_random_weights, standing_in
from autograder.checks.lab24_information.probes import (
    FLOAT32,
    flat,
    judge_training,
    stand_in_bound,
    train_probe,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_true

# The budget of infonce_trains (the handout quotes what the reference reaches with it).
TRAIN = {"dim": 2, "rho": 0.8, "batch_size": 128, "steps": 150, "learning_rate": 3e-3,
         "seed": 24}


@check(points=2, uses="information", task="`infonce_bound`",
       hint="log N + mean_i log_softmax(scores[i, :])[i]: softmax over each ROW (axis 1), "
       "positives on the diagonal")
def infonce_bound_values(lab, rng):
    """Random non-symmetric 8×8 and 5×5 score matrices, against log N minus Keras's sparse
    categorical cross-entropy (labels 0..N-1); unchanged by a constant added to each row;
    at most log N, and close to it for a dominant diagonal."""
    import keras
    from scipy.special import log_softmax
    out = {}
    for n in (8, 5):
        scores = (rng.normal(scale=2.0, size=(n, n)) + rng.normal(size=(n, 1)) * 3.0
                  + np.diag(rng.uniform(0, 2, n))).astype("float32")
        ce = keras.losses.sparse_categorical_crossentropy(np.arange(n), scores, from_logits=True)
        ce_columns = keras.losses.sparse_categorical_crossentropy(np.arange(n), scores.T,
                                                                  from_logits=True)
        out[f"bound_{n}"] = float(lab.information.infonce_bound(scores))
        out[f"keras_{n}"] = float(np.log(n) - np.mean(ce))
        out[f"columns_{n}"] = float(np.log(n) - np.mean(ce_columns))
        out[f"no_log_n_{n}"] = float(-np.mean(ce))
        shift = rng.normal(scale=5.0, size=(n, 1)).astype("float32")
        out[f"row_shifted_{n}"] = float(lab.information.infonce_bound(scores + shift))
    out["dominant"] = float(lab.information.infonce_bound(50.0 * np.eye(6, dtype="float32")))
    # Rows whose positive sits far below the row's maximum (a gap of 150 and of 120):
    # softmax underflows to 0 there, so log(softmax) is -inf.
    far = rng.normal(size=(4, 4)).astype("float32")
    far[0, 1], far[2, 3] = 150.0, 120.0
    out["far"] = float(lab.information.infonce_bound(far))
    out["far_expected"] = float(np.log(4.0) + np.mean(np.diag(log_softmax(
        far.astype(np.float64), axis=1))))
    return out


@infonce_bound_values.verdict
def _(student, reference):
    for n in (8, 5):
        what = f"infonce_bound(scores) for a {n}×{n} score matrix"
        expect_close_naming(
            student[f"bound_{n}"], student[f"keras_{n}"], what,
            [(student[f"columns_{n}"], "takes the softmax over each column (axis 0); row i "
              "holds x_i against every y_j, so normalise over axis 1"),
             (student[f"no_log_n_{n}"], "leaves out the + log N")],
            against="log N - Keras's sparse categorical cross-entropy", **FLOAT32)
        expect_close(student[f"row_shifted_{n}"], student[f"bound_{n}"],
                     f"{what} with a constant added to each row", against="the unshifted rows",
                     **FLOAT32)
    expect_close(student["dominant"], np.log(6.0), "infonce_bound(50 * eye(6))",
                 against="log 6, the cap of InfoNCE with N = 6", rtol=1e-5, atol=1e-5)
    expect_true(np.isfinite(student["far"]),
                f"infonce_bound(scores) is {student['far']} for a 4×4 matrix whose positives sit "
                "150 and 120 below their rows' maxima: log(softmax(scores)) underflows to log 0 "
                "= -inf there; use tf.nn.log_softmax (or scores - reduce_logsumexp)")
    expect_close(student["far"], student["far_expected"],
                 "infonce_bound(scores) with positives far below their rows' maxima",
                 against="log N + scipy's log_softmax in float64", rtol=1e-5, atol=1e-4)
    expect_close(student["bound_8"], reference["bound_8"], "infonce_bound(scores)", **FLOAT32)


@check(points=1, uses="information", task="`donsker_varadhan_bound`",
       hint="mean(joint) - (logsumexp(marginal) - log M): the log of a MEAN of exponentials, "
       "computed with reduce_logsumexp")
def donsker_varadhan_values(lab, rng):
    """6 joint and 10 marginal scores (one large), against scipy's `logsumexp`; stable
    for scores near 100."""
    from scipy.special import logsumexp
    joint = rng.normal(1.0, size=6).astype("float32")
    marginal = np.append(rng.normal(size=9), 4.0).astype("float32")
    dv = lab.information.donsker_varadhan_bound
    big = marginal + 100.0
    return {"bound": float(dv(joint, marginal)), "big": float(dv(joint, big)),
            "scipy": float(np.mean(joint) - logsumexp(marginal) + np.log(10)),
            "scipy_big": float(np.mean(joint) - logsumexp(big.astype(np.float64)) + np.log(10)),
            "sum_not_mean": float(np.mean(joint) - logsumexp(marginal))}


@donsker_varadhan_values.verdict
def _(student, reference):
    expect_close_naming(student["bound"], student["scipy"],
                        "donsker_varadhan_bound(joint (6,), marginal (10,))",
                        [(student["sum_not_mean"], "uses log SUM exp; the bound needs the log "
                          "of the MEAN: subtract log M")],
                        against="mean(joint) - (scipy's logsumexp - log M)", **FLOAT32)
    expect_close(student["big"], student["scipy_big"],
                 "donsker_varadhan_bound with marginal scores near 100 (exp overflows float32: "
                 "use reduce_logsumexp)", against="scipy's logsumexp in float64", rtol=1e-5,
                 atol=1e-4)
    expect_close(student["bound"], reference["bound"], "donsker_varadhan_bound", **FLOAT32)


@check(points=2, uses="information", task="`InfoNCEEstimator.train_step`",
       hint="in the tape: bound = infonce_bound(self.critic(x, y)), loss = -bound, scale the "
       "loss; apply its gradients; the trackers log loss and mi", eager=True)
def train_step_one_step(lab, rng):
    """One SGD step on 16 pairs, `infonce_bound` replaced by the checks' stand-in (a
    different bound-like function; train_step must call infonce_bound): the new weights
    against a step computed with tf.GradientTape, and the logged `loss` and `mi`."""
    import keras
    import tensorflow as tf
    info = lab.information
    keras.utils.set_random_seed(3)
    model = info.InfoNCEEstimator(3, hidden_units=(8,), embed_dim=4)
    assign_random_weights(model, rng, 0.5)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (0.7 * x + rng.normal(size=(16, 3))).astype("float32")
    lr = 0.1
    with tf.GradientTape() as tape:
        value = stand_in_bound(model.critic(x, y))
    bound_gradient = np.concatenate(
        [np.ravel(g.numpy()) for g in tape.gradient(value, model.trainable_variables)])
    expected = flat(model.trainable_variables) + lr * bound_gradient   # descends loss = -bound
    ascent = flat(model.trainable_variables) - lr * bound_gradient     # climbs it
    # A step on one encoder only: the other's weights never move.
    in_g = np.concatenate([np.full(int(np.prod(v.shape)), any(v is w for w in
                                                                model.g.trainable_variables))
                           for v in model.trainable_variables])
    only_g = flat(model.trainable_variables) + lr * bound_gradient * in_g
    only_h = flat(model.trainable_variables) + lr * bound_gradient * ~in_g
    model.compile(optimizer=keras.optimizers.SGD(lr))
    with standing_in(info, infonce_bound=stand_in_bound):
        # fit, not train_on_batch: train_step gets (x, y) as in training, not (x, y, None).
        logs = model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False).history
    return {"after": flat(model.trainable_variables), "expected": expected, "ascent": ascent,
            "only_g": only_g, "only_h": only_h,
            "loss": float(logs.get("loss", [np.nan])[-1]),
            "mi": float(logs.get("mi", [np.nan])[-1]),
            "value": float(value)}


@train_step_one_step.verdict
def _(student, _reference):
    what = "the weights after one InfoNCEEstimator.train_step (SGD, lr 0.1)"
    expect_close_naming(student["after"], student["expected"], what,
                        [(student["ascent"], "moved UP the loss: minimise loss = -bound "
                          "(or maximise the bound), not the other way round"),
                         (student["only_g"], "updates only self.g's weights; self.h never "
                          "trains: take the gradients of self.trainable_variables"),
                         (student["only_h"], "updates only self.h's weights; self.g never "
                          "trains: take the gradients of self.trainable_variables")],
                        advice="the step must follow the gradient of -infonce_bound(critic(x, y)) "
                        "(the checks replace infonce_bound by their own function: call it, do "
                        "not write the bound inline)", against="a tf.GradientTape step",
                        rtol=1e-4, atol=1e-5)
    expect_close(student["mi"], student["value"], "the `mi` train_step logs",
                 against="the bound before the step", **FLOAT32)
    expect_close(student["loss"], -student["value"], "the `loss` train_step logs",
                 against="minus the bound before the step", **FLOAT32)


@check(points=3, timeout=60, uses="information", task="`InfoNCEEstimator.train_step`",
       hint="train_step must maximise infonce_bound as well as the reference does")
def infonce_trains(lab, rng):
    """`fit` on correlated Gaussians (d = 2, ρ = 0.8, true MI 1.02 nats), the budget below:
    the held-out InfoNCE estimate is below the truth and within 0.05 nats of the
    reference's."""
    return train_probe(lab, TRAIN)


@infonce_trains.verdict
def _(student, reference):
    judge_training(student, reference, TRAIN)
    expect_close(student["logged_mi"], reference["logged_mi"], "the last `mi` fit logged",
                 rtol=0.0, atol=0.05)
    expect_close(student["before"], reference["before"],
                 "the held-out estimate of the untrained model", rtol=0.0, atol=0.05)
