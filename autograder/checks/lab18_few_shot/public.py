"""Public checks of lab18_few_shot, part 1: episodes, the Siamese distance and contrastive
loss, and the metric heads (prototypical and matching networks), on random embeddings.
Episodes are judged by their invariants; distances against scipy; the rest against the
reference and against the values of the usual slips."""
import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import softmax

from autograder.api import CheckFailed, check
from autograder.verdicts import (
    expect_close,
    expect_close_naming,
    expect_equal,
    expect_finite,
    expect_shape,
    expect_true,
)

# Episodes of the sampling check: 20 classes of 7 images each (shuffled), the held-out ones
# are 10..19; (n_way, k_shot, n_query) per setting.
EPISODE_SETTINGS = ((5, 2, 3), (5, 1, 6), (3, 4, 2))
EPISODES_PER_SETTING = 30


def _episode_labels(rng):
    return rng.permutation(np.repeat(np.arange(20), 7)), np.arange(10, 20)


@check(points=2, uses="fewshot", reference=False, task="`sample_episode`",
       hint="rng.choice(classes, n_way, replace=False), then per class k_shot + n_query "
       "distinct images of it; labels 0..n_way-1, one per drawn class (any order)")
def episode_sampling(lab, rng):
    """30 episodes per setting (5-way 2-shot, 5-way 1-shot, 3-way 4-shot) from 10 allowed
    classes: shapes, relabelling 0..N-1 (one class per label, the same in support and query),
    K and Q images per class, no image twice, only allowed classes, and every allowed class
    drawn somewhere."""
    labels, classes = _episode_labels(rng)
    out = {"labels": labels, "classes": classes}
    for n, k, q in EPISODE_SETTINGS:
        parts = [lab.fewshot.sample_episode(labels, classes, n, k, q, rng)
                 for _ in range(EPISODES_PER_SETTING)]
        for name, index in (("support_index", 0), ("support_y", 1), ("query_index", 2),
                            ("query_y", 3)):
            out[f"{name}_{n}_{k}_{q}"] = np.stack([np.asarray(p[index]) for p in parts])
    return out


@episode_sampling.verdict
def _(student, _reference):
    labels, allowed = student["labels"], set(student["classes"].tolist())
    seen = set()
    for n, k, q in EPISODE_SETTINGS:
        call = f"sample_episode(labels, classes, n_way={n}, k_shot={k}, n_query={q}, rng)"
        e = EPISODES_PER_SETTING
        s_idx = expect_shape(student[f"support_index_{n}_{k}_{q}"], (e, n * k),
                             f"support_index of {call}")
        s_y = expect_shape(student[f"support_y_{n}_{k}_{q}"], (e, n * k), f"support_y of {call}")
        q_idx = expect_shape(student[f"query_index_{n}_{k}_{q}"], (e, n * q),
                             f"query_index of {call}")
        q_y = expect_shape(student[f"query_y_{n}_{k}_{q}"], (e, n * q), f"query_y of {call}")
        for t in range(e):
            both = np.concatenate([s_idx[t], q_idx[t]])
            # One class under two labels (classes drawn with replacement) also repeats images:
            # name the class draw first, since the image draw may well be right.
            class_of_label = {}
            for idx, y in ((s_idx[t], s_y[t]), (q_idx[t], q_y[t])):
                for i, label in zip(idx, y):
                    class_of_label.setdefault(int(label), set()).add(int(labels[i]))
            drawn = [next(iter(v)) for _, v in sorted(class_of_label.items()) if len(v) == 1]
            twice = sorted({c for c in drawn if drawn.count(c) > 1})
            relabelled = set(s_y[t].tolist()) == set(q_y[t].tolist()) == set(range(n))
            expect_true(not (twice and relabelled),
                        f"{call}: class {twice} is drawn under two labels in one episode: the "
                        "n_way classes must be distinct: rng.choice(classes, n_way, "
                        "replace=False) (np.random's choice draws WITH replacement by default)")
            expect_true(len(set(both.tolist())) == len(both),
                        f"{call}: an image appears twice in one episode (in the support and the "
                        "query, or twice in one of them): draw each class's k_shot + n_query "
                        "images at once, without replacement, then split them")
            classes = set(labels[both].tolist())
            expect_true(classes <= allowed,
                        f"{call} draws images of classes {sorted(classes - allowed)}, which are "
                        "not in `classes` (the held-out classes): choose from `classes` only")
            seen |= classes
            for part, idx, y, per in (("support", s_idx[t], s_y[t], k),
                                      ("query", q_idx[t], q_y[t], q)):
                expect_equal(np.sort(y), np.repeat(np.arange(n), per),
                             f"the sorted {part}_y of {call} (labels 0..{n - 1}, {per} each)")
            mapping = {}
            for idx, y in ((s_idx[t], s_y[t]), (q_idx[t], q_y[t])):
                for i, label in zip(idx, y):
                    mapping.setdefault(int(label), set()).add(int(labels[i]))
            if any(len(v) != 1 for v in mapping.values()) or len(
                    set().union(*mapping.values())) != n:
                raise CheckFailed(
                    f"{call}: each episode label must stand for ONE original class, the same "
                    "in the support and the query, and different labels for different classes "
                    f"(got {dict(sorted((k_, sorted(v)) for k_, v in mapping.items()))}): "
                    "relabel class j of the drawn classes as j, in both sets")
        expect_true(len({tuple(sorted(labels[s].tolist())) for s in s_idx}) > 1,
                    f"{call} draws the same classes in every episode: draw them with the rng")
    expect_true(seen == allowed, f"sample_episode never drew classes {sorted(allowed - seen)} "
                "in 90 episodes: every allowed class must be possible")


@check(points=1, uses="fewshot", task="`euclidean_distance`",
       hint="sqrt(max(sum((a - b)^2, axis=-1), 1e-12)): "
       "the floor keeps the gradient finite when a == b")
def euclidean_distance(lab, rng):
    """Distances of random pairs against scipy, and a finite gradient for identical pairs."""
    import tensorflow as tf
    a = rng.normal(size=(6, 5)).astype("float32")
    b = rng.normal(size=(6, 5)).astype("float32")
    b[:2] = a[:2]                                   # two identical pairs
    av, bv = tf.Variable(a), tf.Variable(b)
    with tf.GradientTape() as tape:
        d = lab.fewshot.euclidean_distance(av, bv)
        total = tf.reduce_sum(d)
    grads = tape.gradient(total, [av, bv])
    return {"a": a, "b": b, "distance": np.asarray(d),
            "grad_a": np.zeros_like(a) if grads[0] is None else np.asarray(grads[0])}


@euclidean_distance.verdict
def _(student, reference):
    what = "euclidean_distance(a, b)"
    exact = np.sqrt(((student["a"].astype(np.float64) - student["b"]) ** 2).sum(-1))
    expect_close_naming(student["distance"], exact.astype(np.float32), what,
                        [(exact**2, "that is the SQUARED distance: take the square root")],
                        against="scipy's distance", atol=1e-5)
    grad = expect_finite(student["grad_a"], f"the gradient of {what} with a == b in two rows "
                         "(sqrt at 0 has an infinite slope: take max(sum, 1e-12) first)")
    expect_close(grad, reference["grad_a"], f"the gradient of sum({what}) with respect to a")


@check(points=2, uses="fewshot", task="`contrastive_loss`",
       hint="mean(same * d^2 + (1 - same) * max(margin - d, 0)^2)")
def contrastive_loss(lab, rng):
    """The loss on distances on both sides of the margin, for two margins; the usual slips
    are named."""
    distance = rng.uniform(0.0, 3.0, size=16).astype("float32")
    same = rng.integers(0, 2, size=16).astype("float32")
    return {"distance": distance, "same": same,
            "margin_1": np.asarray(lab.fewshot.contrastive_loss(distance, same)),
            "margin_2": np.asarray(lab.fewshot.contrastive_loss(distance, same, margin=2.0))}


@contrastive_loss.verdict
def _(student, reference):
    d, same = student["distance"].astype(np.float64), student["same"]
    for key, margin in (("margin_1", 1.0), ("margin_2", 2.0)):
        what = f"contrastive_loss(distance, same, margin={margin})"
        hinge = np.maximum(margin - d, 0.0)
        slips = [
            (np.mean((1 - same) * d**2 + same * hinge**2),
             "the labels are swapped: same-class pairs (same = 1) pay d², others the hinge"),
            (np.mean(same * d**2 + (1 - same) * np.maximum(margin - d**2, 0.0) ** 2),
             "the margin is compared with d² instead of d: max(margin - d, 0)²"),
            (np.mean(same * d**2 + (1 - same) * hinge),
             "the hinge is not squared: (1 - same) * max(margin - d, 0)²"),
            (np.sum(same * d**2 + (1 - same) * hinge**2), "a SUM over pairs: take the mean"),
            (np.mean(0.5 * (same * d**2 + (1 - same) * hinge**2)),
             "an extra factor 0.5: this lab's loss has none"),
        ]
        expect_close_naming(np.asarray(student[key]).reshape(()),
                            np.asarray(reference[key]).reshape(()), what, slips)


@check(points=1, uses="fewshot", task="`SiameseNetwork.call`",
       hint="one shared encoder for both images: euclidean_distance(self.encoder(x1), "
       "self.encoder(x2))")
def siamese_network(lab, rng):
    """Distances of a SiameseNetwork around a fixed linear encoder, against numpy; the two
    branches share the encoder's weights."""
    import keras
    weights = rng.normal(size=(6, 3)).astype("float32")
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, use_bias=False)])
    encoder.layers[0].kernel.assign(weights)
    model = lab.fewshot.SiameseNetwork(encoder)
    x1 = rng.normal(size=(5, 6)).astype("float32")
    x2 = rng.normal(size=(5, 6)).astype("float32")
    return {"x1": x1, "x2": x2, "w": weights, "distance": np.asarray(model((x1, x2))),
            "weights": len(model.trainable_weights)}


@siamese_network.verdict
def _(student, reference):
    exact = np.linalg.norm(student["x1"] @ student["w"] - student["x2"] @ student["w"], axis=1)
    expect_close(student["distance"], exact.astype(np.float32),
                 "SiameseNetwork(encoder)((x1, x2))",
                 against="the distance between the encoder's embeddings", atol=1e-5)
    expect_equal(student["weights"], 1, "the number of trainable weights of SiameseNetwork "
                 "around a one-kernel encoder (both branches share the encoder)")


@check(points=1, uses="fewshot", task="`squared_distances`",
       hint="sum over D of (a[..., :, None, :] - b[..., None, :, :])^2, shape (..., Q, N)")
def squared_distances(lab, rng):
    """All squared distances of one episode and of a batch of 3 episodes, against scipy."""
    a = rng.normal(size=(3, 7, 4)).astype("float32")
    b = rng.normal(size=(3, 5, 4)).astype("float32")
    return {"a": a, "b": b, "one": np.asarray(lab.fewshot.squared_distances(a[0], b[0])),
            "batch": np.asarray(lab.fewshot.squared_distances(a, b))}


@squared_distances.verdict
def _(student, reference):
    exact = np.stack([cdist(a, b, "sqeuclidean") for a, b in zip(student["a"], student["b"])])
    slips = [(np.sqrt(exact[0]), "those are distances, not SQUARED distances")]
    expect_close_naming(student["one"], exact[0].astype(np.float32),
                        "squared_distances(a (7, 4), b (5, 4))", slips,
                        against="scipy's cdist(a, b, 'sqeuclidean')", atol=1e-4)
    expect_close(student["batch"], exact.astype(np.float32),
                 "squared_distances(a (3, 7, 4), b (3, 5, 4)): a batch of episodes",
                 against="scipy's cdist per episode", atol=1e-4)


@check(points=2, uses="fewshot", task="`prototypes`, `prototypical_logits`",
       hint="prototypes: the mean of the support embeddings of each label (labels in any "
       "order, any K); logits = -squared distance to each prototype")
def prototypical_head(lab, rng):
    """Prototypes of shuffled support sets (one episode with 1 to 4 shots per class, and a
    batch of 2), and the logits of queries, against per-class means in numpy."""
    one_y = rng.permutation(np.array([0, 0, 1, 2, 2, 2, 3, 3, 3, 3]))
    one = rng.normal(size=(10, 3)).astype("float32")
    batch_y = np.stack([rng.permutation(np.repeat(np.arange(3), 2)) for _ in range(2)])
    batch = rng.normal(size=(2, 6, 3)).astype("float32")
    query = rng.normal(size=(2, 5, 3)).astype("float32")
    fewshot = lab.fewshot
    protos = fewshot.prototypes(batch, batch_y, 3)
    return {"one": one, "one_y": one_y, "batch": batch, "batch_y": batch_y, "query": query,
            "protos_one": np.asarray(fewshot.prototypes(one, one_y, 4)),
            "protos_batch": np.asarray(protos),
            "logits": np.asarray(fewshot.prototypical_logits(query, protos))}


@prototypical_head.verdict
def _(student, reference):
    def means(x, y, n):
        return np.stack([x[y == j].mean(0) for j in range(n)])
    protos_one = means(student["one"], student["one_y"], 4)
    expect_close_naming(student["protos_one"], protos_one,
                        "prototypes(support (10, 3), labels with 1 to 4 shots per class, 4)",
                        [(np.stack([student["one"][student["one_y"] == j].sum(0)
                                    for j in range(4)]),
                          "class SUMS: divide by each class's count")],
                        against="the per-class means", atol=1e-5)
    protos = np.stack([means(x, y, 3) for x, y in zip(student["batch"], student["batch_y"])])
    expect_close(student["protos_batch"], protos, "prototypes of a batch of 2 episodes",
                 against="the per-class means", atol=1e-5)
    sq = np.stack([cdist(q, p, "sqeuclidean") for q, p in zip(student["query"], protos)])
    expect_close_naming(student["logits"], -sq, "prototypical_logits(query, prototypes)",
                        [(sq, "the sign is flipped: logits are MINUS the squared distance"),
                         (-np.sqrt(sq), "minus the distance: prototypical networks use the "
                          "SQUARED Euclidean distance")],
                        against="-cdist(query, prototypes, 'sqeuclidean')", atol=1e-4)
    expect_close(student["logits"], reference["logits"], "prototypical_logits(query, prototypes)")


@check(points=2, uses="fewshot", task="`matching_probabilities`",
       hint="attention = softmax over the support of scale * cosine(query, support); "
       "p(class j) = the attention summed over the support examples labelled j")
def matching_head(lab, rng):
    """Class probabilities of a batch of 2 episodes (shuffled labels, uneven norms) for
    scale 10 and 3, against a loop with scipy's softmax."""
    norms = rng.uniform(0.5, 3.0, size=(2, 8, 1))
    support = (rng.normal(size=(2, 8, 4)) * norms).astype("float32")
    support_y = np.stack([rng.permutation(np.repeat(np.arange(4), 2)) for _ in range(2)])
    query = (rng.normal(size=(2, 5, 4)) * 2.0).astype("float32")
    fewshot = lab.fewshot
    return {"support": support, "support_y": support_y, "query": query,
            "probs": np.asarray(fewshot.matching_probabilities(query, support, support_y, 4)),
            "probs_3": np.asarray(fewshot.matching_probabilities(query, support, support_y, 4,
                                                                 scale=3.0))}


@matching_head.verdict
def _(student, reference):
    s, q, y = (student[k].astype(np.float64) for k in ("support", "query", "support_y"))

    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    def probs(scale, cosine=True, only=None):
        out = np.zeros(q.shape[:2] + (4,))
        for e in range(2):
            similarity = (1 - cdist(q[e], s[e], "cosine")) if cosine else q[e] @ s[e].T
            if only == "query":
                similarity = unit(q[e]) @ s[e].T
            elif only == "support":
                similarity = q[e] @ unit(s[e]).T
            attention = softmax(scale * similarity, axis=1)
            for j in range(4):
                out[e, :, j] = attention[:, y[e] == j].sum(1)
        return out
    for key, scale in (("probs", 10.0), ("probs_3", 3.0)):
        what = f"matching_probabilities(query, support, support_y, 4, scale={scale})"
        expect_close_naming(student[key], probs(scale), what,
                            [(probs(scale, cosine=False), "dot products, not cosines: "
                              "l2-normalise the query and support embeddings first"),
                             (probs(1.0), "the scale is not applied to the cosines"),
                             (probs(scale, only="query"), "only the QUERY embeddings are "
                              "l2-normalised: normalise the support embeddings too"),
                             (probs(scale, only="support"), "only the SUPPORT embeddings are "
                              "l2-normalised: normalise the query embeddings too")],
                            against="a softmax over the support of the scaled cosines", atol=1e-5)
    expect_close(student["probs"], reference["probs"], "matching_probabilities(...)")


@check(points=1, uses="fewshot", task="`episode_log_probs`",
       hint="prototypical: log_softmax(prototypical_logits(query, prototypes(...))); "
       "matching: log(max(matching_probabilities(...), 1e-8))")
def episode_log_probs(lab, rng):
    """Both heads on a batch of 2 random episodes: log-probabilities, each row summing to 1
    once exponentiated."""
    support = rng.normal(size=(2, 6, 4)).astype("float32")
    support_y = np.stack([rng.permutation(np.repeat(np.arange(3), 2)) for _ in range(2)])
    query = rng.normal(size=(2, 4, 4)).astype("float32")
    return {head: np.asarray(lab.fewshot.episode_log_probs(support, support_y, query, 3, head))
            for head in ("prototypical", "matching")}


@episode_log_probs.verdict
def _(student, reference):
    for head in ("prototypical", "matching"):
        what = f"episode_log_probs(..., head={head!r})"
        total = np.exp(np.asarray(student[head], dtype=np.float64)).sum(-1)
        expect_close(total, np.ones_like(total), f"the sum of exp({what}) over classes",
                     against="1 (log-PROBABILITIES)", atol=1e-4)
        expect_close(student[head], reference[head], what)
