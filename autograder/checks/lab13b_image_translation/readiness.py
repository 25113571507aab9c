"""GPU-readiness checks of lab13b_image_translation: they run on a CPU too (see
autograder/readiness.py). The networks are the checks' own, at 8x8, so these checks judge
the student's two train_steps (and the CycleGAN's image histories inside them): two
optimizers, each loss scaled by its own optimizer, no Python that depends on the batch."""
import functools
import re

from autograder import readiness
from autograder.checks.lab13b_image_translation.probes import CYCLEGAN, PIX2PIX, one_layer

SHAPE = (8, 8, 2)


def _pix2pix(lab):
    return lambda: lab.pix2pix.Pix2Pix(one_layer(SHAPE), one_layer(SHAPE, SHAPE, stride=2))


def _cyclegan(lab):
    return lambda: lab.cyclegan.CycleGAN(one_layer(SHAPE), one_layer(SHAPE),
                                         one_layer(SHAPE, stride=2), one_layer(SHAPE, stride=2),
                                         pool_size=6, seed=1)


def _compile(model, jit_compile="auto"):
    import keras

    def adam():
        return readiness.scaled_like_keras(keras.optimizers.Adam(1e-3))
    model.compile(g_optimizer=adam(), d_optimizer=adam(), jit_compile=jit_compile)


def _pairs(rng):
    return tuple(rng.uniform(size=(64, *SHAPE)).astype("float32") for _ in range(2))


SCALE_HINT = ("losses in float32: every network output through as_float32 before a loss; "
              "each loss scaled by its own optimizer inside its tape: "
              "self.g_optimizer.scale_loss(g_loss), self.d_optimizer.scale_loss(d_loss), then "
              "tape.gradient of the scaled loss")
# TensorFlow's words when a float16 tensor meets a float32 one ("half" in eager errors).
FLOAT16 = re.compile(r"\bhalf\b|float16")


def naming_float16_slips(chk):
    """`chk` (a mixed-precision check) with a crash where a float16 tensor met a float32
    one told as that slip, at the student's line: under mixed_float16 the networks return
    float16, and only an output left uncast meets the float32 data in a loss."""
    probe = chk.probe

    @functools.wraps(probe)
    def probe_naming_float16(lab, rng):
        try:
            return probe(lab, rng)
        except Exception as error:  # the message goes to the student
            if not FLOAT16.search(str(error)):
                raise
            raise TypeError(
                "a float16 tensor met a float32 one: under mixed_float16 the networks return "
                "float16, so cast each network output with as_float32 before a loss (the "
                f"generated images too, not only the logits). TensorFlow said: {error}"
            ).with_traceback(error.__traceback__) from None
    chk.probe = probe_naming_float16
    return chk


(pix2pix_trains_with_xla, pix2pix_trains_in_mixed_precision,
 pix2pix_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "pix2pix", build=_pix2pix, compile_model=_compile, data=_pairs, uses=PIX2PIX,
    task="`Pix2Pix.train_step`", scale_hint=SCALE_HINT)

(cyclegan_trains_with_xla, cyclegan_trains_in_mixed_precision,
 cyclegan_train_step_traces_at_most_twice) = readiness.checks_for(
    __name__, "cyclegan", build=_cyclegan, compile_model=_compile, data=_pairs, uses=CYCLEGAN,
    task="`CycleGAN.train_step`, `ImageHistory.query`", scale_hint=SCALE_HINT,
    trace_hint="ImageHistory.query loops with keras.ops.fori_loop(0, tf.shape(images)[0], ...) "
               "over TensorFlow values, never a Python loop over the batch size")

naming_float16_slips(pix2pix_trains_in_mixed_precision)
naming_float16_slips(cyclegan_trains_in_mixed_precision)
