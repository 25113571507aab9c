"""Public checks of lab13b_image_translation, part 3: CycleGAN (cyclegan.py). The LSGAN losses
against numpy; the image history against a numpy replay of the same random draws; the
generators' losses on elementwise stand-in networks (their pairing against numpy); the
train_step on the checks' networks with stand-in losses, histories and SGD; saving."""
import json

import numpy as np

from autograder.api import CheckFailed, check
from autograder.check_helpers import scalar, tensor
from autograder.checks.lab13b_image_translation.probes import (
    CYCLEGAN,
    elementwise_network,
    numpy_cycle_terms,
    standin_losses,
    standin_lsgan_generator_loss,
)
from autograder.verdicts import expect_close, expect_close_naming, expect_shape, expect_true


@check(points=2, uses=CYCLEGAN, reference=False,
       task="`lsgan_discriminator_loss`, `lsgan_generator_loss`",
       hint="D: 0.5 * (mean (real - 1)^2 + mean fake^2); G: mean (fake - 1)^2; raw outputs, "
            "no sigmoid")
def lsgan_losses(lab, rng):
    """The least-squares losses on random outputs (3, 2, 2, 1), against numpy: real pushed
    to 1 and fakes to 0 (halved) for D, fakes to 1 for G; the message names swapped targets,
    a missing 0.5 or a sigmoid."""
    real, fake = (1.5 * rng.normal(size=(3, 2, 2, 1)).astype("float32") for _ in range(2))
    return {"real": real, "fake": fake,
            "d_loss": scalar(lab.cyclegan.lsgan_discriminator_loss(tensor(real), tensor(fake)),
                             "lsgan_discriminator_loss"),
            "g_loss": scalar(lab.cyclegan.lsgan_generator_loss(tensor(fake)),
                             "lsgan_generator_loss")}


@lsgan_losses.verdict
def _(student, reference):
    real, fake = (np.asarray(student[k], np.float64) for k in ("real", "fake"))
    sigmoid = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    mean_sq = lambda t, target: np.mean((t - target) ** 2)  # noqa: E731
    expect_close_naming(student["d_loss"], 0.5 * (mean_sq(real, 1) + mean_sq(fake, 0)),
                        "lsgan_discriminator_loss(real, fake)",
                        [(0.5 * (mean_sq(real, 0) + mean_sq(fake, 1)), "the targets are "
                          "swapped: real outputs go to 1, fakes to 0"),
                         (mean_sq(real, 1) + mean_sq(fake, 0), "CycleGAN halves the "
                          "discriminator's loss: 0.5 * (...)"),
                         (0.5 * (mean_sq(sigmoid(real), 1) + mean_sq(sigmoid(fake), 0)),
                          "least squares act on the raw outputs, not on sigmoid(outputs)")],
                        against="numpy's 0.5 * (mean (real - 1)^2 + mean fake^2)")
    expect_close_naming(student["g_loss"], mean_sq(fake, 1), "lsgan_generator_loss(fake)",
                        [(mean_sq(fake, 0), "the target is 0: the generator wants its fakes "
                          "called REAL, mean (fake - 1)^2"),
                         (-mean_sq(fake, 0), "the generator does not maximise D's loss in "
                          "LSGAN; it pulls its fakes' outputs to the real target 1"),
                         (mean_sq(sigmoid(fake), 1), "least squares act on the raw outputs, "
                          "not on sigmoid(outputs)")],
                        against="numpy's mean (fake - 1)^2")


POOL, BATCHES = 5, (3, 4, 6)


def history_replay(uniforms, slots, batches, pool_size, variant="right"):
    """The image history in numpy, on images numbered 1, 2, ... (ids); returns the ids each
    query returns, and the pool's ids and count after each query. `variant` replays a slip."""
    pool, count, image, out = [0] * pool_size, 0, 0, []
    for n in batches:
        returned = []
        for _ in range(n):
            image += 1
            u, slot = uniforms[image - 1], slots[image - 1]
            if count < pool_size:
                pool[count], count = image, count + 1
                returned.append(image)
            elif (u > 0.5) != (variant == "below_half"):
                returned.append(pool[slot])
                if variant != "no_store":
                    pool[slot] = image
            else:
                returned.append(image)
        out.append({"returned": returned, "pool": list(pool), "count": count})
    return out


@check(points=3, uses=CYCLEGAN, reference=False, task="`ImageHistory.query`",
       hint="image i in order: while count < pool_size store it in slot count and return it; "
            "once full, if uniforms[i] > 0.5 return the image in slot slots[i] and store image "
            "i there, else return image i")
def image_history_replay(lab, rng):
    """ImageHistory(pool_size=5) queried with batches of 3, 4 and 6 images (each image a
    constant of its own number), the random draws fixed by the check: what each query
    returns, and the pool's images and count after it, against a numpy replay of the same
    draws; draw is called once per query."""
    history = lab.cyclegan.ImageHistory(POOL, (2, 2, 1), seed=0)
    total = sum(BATCHES)
    uniforms = rng.uniform(size=total).astype("float32")
    uniforms[[7, 8]] = 0.9, 0.1   # both kinds while the pool is full
    slots = rng.integers(0, POOL, size=total).astype("int32")
    calls, offset = [], [0]

    def draw(n):
        n = int(n)
        calls.append(n)
        start = offset[0]
        offset[0] += n
        return tensor(uniforms[start:start + n]), tensor(slots[start:start + n], "int32")
    history.draw = draw
    weights = sorted((w.name, tuple(w.shape), str(w.dtype), bool(w.trainable))
                     for w in history.weights)
    out, number = [], 0
    for n in BATCHES:
        batch = np.arange(number + 1, number + n + 1, dtype="float32")[:, None, None, None]
        number += n
        returned = np.asarray(history.query(tensor(np.broadcast_to(batch, (n, 2, 2, 1)))))
        out.append({"returned": returned,
                    "pool": np.asarray(history.images), "count": int(np.asarray(history.count))})
    return {"queries": out, "uniforms": uniforms, "slots": slots, "calls": calls,
            "weights": json.dumps(weights)}


def ids(images):
    """The number each image of a (k, 2, 2, 1) batch holds (-1 when not one constant)."""
    images = np.asarray(images, np.float64).reshape(len(images), -1)
    constant = np.all(images == images[:, :1], axis=1)
    return [int(round(v)) if c else -1 for v, c in zip(images[:, 0], constant)]


@image_history_replay.verdict
def _(student, reference):
    weights = {name: [shape, dtype, trainable] for name, shape, dtype, trainable
               in json.loads(student["weights"])}
    expect_true(weights.get("images") == [[POOL, 2, 2, 1], "float32", False]
                and weights.get("count") == [[], "int32", False],
                f"ImageHistory(5, (2, 2, 1))'s weights are {weights}: keep the given `images` "
                "(5, 2, 2, 1) float32 and `count` () int32, both non-trainable")
    expect_true(list(student["calls"]) == list(BATCHES), f"query called self.draw with "
                f"{list(student['calls'])} for batches of {list(BATCHES)}: draw once per query, "
                "one uniform and one slot per image")
    expected = history_replay(student["uniforms"], student["slots"], BATCHES, POOL)
    slips = {"below_half": "swaps when uniforms[i] <= 0.5; swap when uniforms[i] > 0.5",
             "no_store": "the stored image is returned but the new one does not take its slot"}
    replays = {name: history_replay(student["uniforms"], student["slots"], BATCHES, POOL, name)
               for name in slips}
    pool_before, want_before, count_before = [0] * POOL, [0] * POOL, 0   # an empty pool
    for k, (got, want) in enumerate(zip(student["queries"], expected)):
        first = sum(BATCHES[:k]) + 1
        what = f"query {k + 1} (a batch of {BATCHES[k]}, images numbered from {first})"
        expect_shape(got["returned"], (BATCHES[k], 2, 2, 1), f"the batch {what} returns")
        returned, pool = ids(got["returned"]), ids(got["pool"])
        unchanged = pool == pool_before and want["pool"] != want_before
        pool_before, want_before = pool, want["pool"]
        if returned != want["returned"] or pool != want["pool"]:
            if unchanged and returned == want["returned"]:
                raise CheckFailed(f"ImageHistory, {what}: returned the right images, but the "
                                  f"pool's images are unchanged by it ({pool}); it should now "
                                  f"hold {want['pool']}: assign the loop's pool back to "
                                  "self.images after the loop")
            for name, message in slips.items():
                replay = replays[name][k]
                if returned == replay["returned"] and pool == replay["pool"]:
                    raise CheckFailed(f"ImageHistory, {what}: {message}")
            identity = list(range(first, first + BATCHES[k]))
            if returned == identity and want["returned"] != identity:
                raise CheckFailed(f"ImageHistory, {what}: returns every new image as it is; "
                                  "once the pool is full, an image whose uniform is above 0.5 "
                                  "must be swapped for the one stored in its slot")
            raise CheckFailed(f"ImageHistory, {what}: returned images {returned} and left "
                              f"the pool holding {pool}; the numpy replay of the same draws "
                              f"returns {want['returned']} and holds {want['pool']}")
        stuck = (" (unchanged by the query: assign the loop's count back to self.count)"
                 if got["count"] == count_before != want["count"] else "")
        expect_true(got["count"] == want["count"], f"ImageHistory, {what}: count is "
                    f"{got['count']}, expected {want['count']} (images stored, at most 5)"
                    f"{stuck}")
        count_before = got["count"]


def cycle_model(lab, shape=(4, 4, 2), cycle_weight=3.0, identity_weight=0.7):
    """The student's CycleGAN on the elementwise stand-in networks (probes.MAPS)."""
    networks = [elementwise_network(name, shape) for name in ("G", "F", "D_X", "D_Y")]
    return lab.cyclegan.CycleGAN(*networks, cycle_weight=cycle_weight,
                                 identity_weight=identity_weight, pool_size=2)


@check(points=3, uses=CYCLEGAN, reference=False, task="`CycleGAN.generator_losses`",
       hint="fake_y = G(x), fake_x = F(y); cycle: F(fake_y) vs x and G(fake_x) vs y; identity: "
            "G(y) vs y and F(x) vs x; adversarial: D_Y on fake_y, D_X on fake_x; g_loss = "
            "adversarial + cycle_weight * cycle + identity_weight * identity")
def cyclegan_generator_losses(lab, rng):
    """generator_losses(x, y) on stand-in networks of known elementwise maps (G, F, D_X,
    D_Y all different) and a stand-in generator loss, cycle_weight 3, identity_weight 0.7:
    each term and g_loss against numpy, and the fakes returned are F(y) and G(x); the
    message names the pairing that went wrong."""
    x, y = (rng.uniform(size=(3, 4, 4, 2)).astype("float32") for _ in range(2))
    model = cycle_model(lab)
    with standin_losses(lab.cyclegan, lsgan_generator_loss=standin_lsgan_generator_loss):
        result = model.generator_losses(tensor(x), tensor(y))
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise ValueError("generator_losses must return (losses, fake_x, fake_y); it returned "
                         f"{type(result).__name__}")
    losses, fake_x, fake_y = result
    missing = sorted({"g_loss", "adversarial", "cycle", "identity"} - set(losses))
    if missing:
        raise ValueError(f"generator_losses' dict lacks {missing}")
    return {"x": x, "y": y, "fake_x": np.asarray(fake_x), "fake_y": np.asarray(fake_y),
            **{name: scalar(value, f"generator_losses' {name}") for name, value in losses.items()
               if name in ("g_loss", "adversarial", "cycle", "identity")}}


@cyclegan_generator_losses.verdict
def _(student, reference):
    from autograder.checks.lab13b_image_translation.probes import MAPS
    x, y = np.asarray(student["x"], np.float64), np.asarray(student["y"], np.float64)
    terms, slips = numpy_cycle_terms(x, y, 3.0, 0.7)
    for name in ("adversarial", "cycle", "identity"):
        expect_close_naming(student[name], terms[name], f"generator_losses' {name} term",
                            slips[name], against="numpy on the same stand-in networks")
    wrong = terms["adversarial"] + 0.7 * terms["cycle"] + 3.0 * terms["identity"]
    expect_close_naming(student["g_loss"], terms["g_loss"], "generator_losses' g_loss "
                        "(cycle_weight 3, identity_weight 0.7)",
                        [(wrong, "the two weights are swapped: cycle_weight weighs the cycle "
                          "term, identity_weight the identity term"),
                         (terms["adversarial"] + 3.0 * terms["cycle"] + 2.1 * terms["identity"],
                          "identity_weight is already the identity term's weight; do not "
                          "multiply it by cycle_weight")],
                        against="adversarial + cycle_weight * cycle + identity_weight * "
                                "identity in numpy")
    for name, want, how in (("fake_y", MAPS["G"][1](x), "G(x)"), ("fake_x", MAPS["F"][1](y),
                                                                   "F(y)")):
        expect_close(student[name], want.astype(np.float32), f"the {name} generator_losses "
                     f"returns (it must be {how})", rtol=1e-4, atol=1e-5,
                     against=f"{how} of the stand-in network")
