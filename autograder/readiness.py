"""GPU-readiness checks that run on a CPU: the parts every lab's `readiness.py` shares.

A model is ready for a GPU runner when it
- compiles with XLA (`jit_compile=True`: its train_step lowers to XLA's HLO) and trains,
- trains under the `mixed_float16` policy with loss scaling: its `train_step` calls
  `optimizer.scale_loss(loss)` on every optimizer it applies (float16 gradients of an
  unscaled loss underflow to zero, and a LossScaleOptimizer would divide them by its scale),
- traces `train_step` at most twice over batches of varying size (Keras relaxes the shape
  after the second trace; Python that needs a fixed batch size fails or retraces).

Probes (run in the worker) call `jit_trains`, `mixed_precision_trains` and
`traces_over_batch_sizes` with a lab's model builder; verdicts (run in the grader) call the
matching `judge_*`. The verdicts need no reference: these are properties of the student's
model alone.
"""
from __future__ import annotations

import numpy as np

from autograder.verdicts import CheckFailed, expect_at_most, expect_true

MAX_TRACES = 2


def _optimizers(model) -> list:
    """The model's optimizers: `model.optimizer` and any attribute holding one (GANs)."""
    import keras
    found = [model.optimizer] if getattr(model, "optimizer", None) is not None else []
    for value in vars(model).values():
        if isinstance(value, keras.optimizers.Optimizer) and all(value is not f for f in found):
            found.append(value)
    return found


def scaled_like_keras(optimizer):
    """What Keras does to `model.optimizer` under mixed_float16, for models that compile
    their own optimizers (GANs): wrap it in a LossScaleOptimizer."""
    import keras
    if keras.mixed_precision.dtype_policy().name == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def _weights(model) -> list[np.ndarray]:
    return [np.array(v.numpy(), dtype=np.float64) for v in model.trainable_variables]


def _parts(data) -> tuple:
    return data if isinstance(data, tuple) else (data,)   # x, or (x, y) for supervised models


def _batches(data, batch_size: int, count: int) -> list:
    """The first `count` batches as `fit(shuffle=False)` hands them to train_step: x, or
    (x, y), cycling through the data."""
    import keras
    import tensorflow as tf
    packed = keras.utils.pack_x_y_sample_weight(*_parts(data))
    size = len(keras.tree.flatten(packed)[0])
    starts = [(k * batch_size) % max(size - batch_size + 1, 1) for k in range(count)]
    return [keras.tree.map_structure(lambda a, s=s: tf.convert_to_tensor(a[s:s + batch_size]),
                                     packed) for s in starts]


def _built(model, batch) -> None:
    """A subclassed model makes its weights in its first step: take that step now, eagerly."""
    if not model.trainable_variables:
        model.train_step(batch)


def _eager_losses(model, batches: list) -> dict:
    """Train on `batches` by calling train_step eagerly (no tracing: a traced step costs
    seconds, and what these checks ask of it, what it logs and whether it moves the weights,
    is the same); the losses it returned, and whether the weights moved."""
    _built(model, batches[0])
    before = _weights(model)
    logs = {}
    for batch in batches:
        logs = {name: float(np.mean(np.asarray(value)))
                for name, value in dict(model.train_step(batch)).items()}
    after = _weights(model)
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(after, before)) if before else 0.0
    return {"logs": sorted(logs), "last": [logs[name] for name in sorted(logs)],
            "weights_moved": moved, "weights_finite": all(np.all(np.isfinite(a)) for a in after)}


def jit_trains(build, compile_model, data, *, batch_size: int = 32, steps: int = 2) -> dict:
    """Compile `build()` with jit_compile=True and lower its train_step to XLA's HLO, as `fit`
    does before its first step; then train `steps` steps to see that the step learns.

    Lowering is where XLA refuses a step (an op with no XLA kernel, a Python or numpy call, a
    shape it cannot fix). Turning the HLO into CPU machine code would cost seconds per model
    and tell a GPU runner nothing more: the GPU checks run XLA there for real."""
    import tensorflow as tf

    from autograder.gpu import without_op_determinism
    # XLA is what this check is about, and it only asks whether the model trains.
    with without_op_determinism():
        model = build()
        compile_model(model, jit_compile=True)
        batches = _batches(data, batch_size, steps)
        _built(model, batches[0])   # the lowered step must not create variables

        @tf.autograph.experimental.do_not_convert   # as in fit: no AutoGraph
        def one_step(batch):
            return model.train_step(batch)
        tf.function(one_step, jit_compile=True).experimental_get_compiler_ir(batches[0])(
            stage="hlo")
        result = _eager_losses(model, batches)
        result["jit_compile"] = bool(model.jit_compile)
        return result


def judge_jit(student) -> None:
    expect_true(student["jit_compile"], "the model was compiled with jit_compile=True, but "
                "Keras turned XLA off for it (an op XLA cannot compile?)")
    _judge_trained(student, "with jit_compile=True")


def _judge_trained(student, how: str) -> None:
    if not student["weights_finite"]:
        raise CheckFailed(f"trained {how}, the weights became NaN or infinite")
    last = np.asarray(student["last"], dtype=np.float64)
    if not np.all(np.isfinite(last)):
        raise CheckFailed(f"trained {how}, fit logged non-finite values: "
                          f"{dict(zip(student['logs'], last.tolist()))}")
    expect_true(student["weights_moved"] > 0, f"trained {how}, no weight changed: were the "
                "gradients all zero (loss computed outside the tape, or not scaled)?")


def _gradient_counted(value, counter):
    """`value` unchanged, except that every gradient that flows back through it adds one to
    `counter`: it tells whether tape.gradient differentiated the scaled loss."""
    import tensorflow as tf

    @tf.custom_gradient
    def identity(x):
        def gradient(upstream):
            with tf.control_dependencies([counter.assign_add(1)]):
                return tf.identity(upstream)
        return tf.identity(x), gradient
    return identity(value)


def mixed_precision_trains(build, compile_model, data, *, batch_size: int = 32,
                           steps: int = 3) -> dict:
    """Build and train under mixed_float16, counting per optimizer the scale_loss calls and
    the gradients taken through the scaled loss."""
    import keras
    import tensorflow as tf
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = build()
        compile_model(model)
        optimizers = _optimizers(model)
        calls = [0] * len(optimizers)
        through = [tf.Variable(0, dtype=tf.int64, trainable=False) for _ in optimizers]
        largest_loss = tf.Variable(0.0, dtype=tf.float32, trainable=False)
        for index, optimizer in enumerate(optimizers):
            original = optimizer.scale_loss

            def counted(loss, _index=index, _original=original):
                calls[_index] += 1
                size = tf.reduce_max(tf.abs(tf.cast(loss, tf.float32)))
                with tf.control_dependencies([largest_loss.assign(
                        tf.maximum(largest_loss, size))]):
                    return _gradient_counted(_original(loss), through[_index])
            optimizer.scale_loss = counted
        result = _eager_losses(model, _batches(data, batch_size, steps))
        result.update(
            scale_loss_calls=calls,
            gradients_through_scaled_loss=[int(c.numpy()) for c in through],
            largest_unscaled_loss=float(largest_loss.numpy()),
            loss_scaled=[isinstance(o, keras.optimizers.LossScaleOptimizer) for o in optimizers],
            applied=[int(o.iterations.numpy()) > 0 for o in optimizers],
            compute_dtype=str(model.compute_dtype),
            variable_dtypes=sorted({str(v.dtype) for v in model.trainable_variables}))
        return result
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def judge_mixed_precision(student) -> None:
    expect_true(student["compute_dtype"] == "float16", "under the mixed_float16 policy the model "
                f"computes in {student['compute_dtype']}; build its layers without a fixed dtype")
    expect_true(student["variable_dtypes"] == ["float32"], "under mixed_float16 the weights must "
                f"stay float32; found {student['variable_dtypes']}")
    calls = list(student["scale_loss_calls"])
    applied = list(student["applied"])
    if not any(applied) and any(calls) and any(student["loss_scaled"]):
        # A LossScaleOptimizer skips every step whose gradients are not finite.
        raise CheckFailed("under mixed_float16 the optimizer skipped every step: the scaled loss "
                          "or its gradients overflowed float16 (inf or NaN). Is the loss a mean "
                          "over the batch rather than a sum, and computed in float32?")
    expect_true(any(applied), "training under mixed_float16 applied no optimizer")
    used = [i for i, a in enumerate(applied) if a]
    for index in used:
        count, scaled = calls[index], student["loss_scaled"][index]
        which = "the optimizer" if len(used) == 1 else f"optimizer {used.index(index) + 1} of {len(used)}"
        if scaled and count == 0:
            raise CheckFailed(f"train_step never calls {which}'s scale_loss(loss) before "
                              "tape.gradient: under mixed precision its float16 gradients "
                              "underflow and are then divided by the loss scale")
        if scaled and not student["gradients_through_scaled_loss"][index]:
            raise CheckFailed(f"train_step calls {which}'s scale_loss(loss) but takes "
                              "tape.gradient of the unscaled loss: differentiate what "
                              "scale_loss returned, or the optimizer divides the gradients "
                              "by the loss scale")
    # A loss scale is 2^15 or a few halvings of it: a logged value that large against the
    # losses handed to scale_loss is the scaled loss, logged by mistake.
    largest = student["largest_unscaled_loss"]
    for name, value in zip(student["logs"], student["last"]):
        if largest > 0 and abs(value) > 256 * largest + 1:
            raise CheckFailed(f"under mixed_float16, fit logged {name} = {value:.4g}, hundreds of "
                              f"times the losses passed to scale_loss (at most {largest:.4g}): "
                              "log the loss itself, not what scale_loss returned")
    _judge_trained(student, "under the mixed_float16 policy")


def traces_over_batch_sizes(build, compile_model, data, sizes=(32, 24, 16, 8, 5)) -> dict:
    """One batch of each given size, counting how often train_step traces.

    The step is wrapped as `fit` wraps it (a `tf.function` with reduce_retracing, no
    AutoGraph) and only traced, never run: tracing is where Python that depends on the batch
    size fails or retraces, and running each graph as `fit` does would cost its set-up
    (about half of the check's time) and tell nothing more. One eager step then shows that
    train_step applies its gradients."""
    import tensorflow as tf
    model = build()
    compile_model(model)
    first = _batches(data, sizes[0], 1)[0]
    _built(model, first)   # uncounted: the count is of traces
    for optimizer in _optimizers(model):
        # An optimizer creating its slots inside the first step makes TensorFlow trace that
        # step twice; build it first, so only the model's own retracing is counted.
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
    traces = [0]

    @tf.autograph.experimental.do_not_convert
    def one_step(batch):
        traces[0] += 1   # Python runs only while TensorFlow traces the step
        return model.train_step(batch)
    step = tf.function(one_step, reduce_retracing=True, jit_compile=bool(model.jit_compile))
    for size in sizes:
        # (x, y) as fit hands them to train_step; a part that is itself a tuple of inputs (a
        # support set and its queries) is cut to the batch size in each of its inputs.
        step.get_concrete_function(_batches(data, size, 1)[0])
    before = _weights(model)
    model.train_step(first)
    moved = any(not np.array_equal(b, a) for b, a in zip(before, _weights(model)))
    return {"traces": traces[0], "sizes": list(sizes), "weights_moved": moved}


def judge_traces(student) -> None:
    # A step that trains nothing traces once and would keep the point for free.
    expect_true(student["weights_moved"], "a step of train_step did not change any weight: "
                "it must apply the gradients")
    expect_at_most(student["traces"], MAX_TRACES,
                   f"times train_step was traced over {len(student['sizes'])} batches of sizes "
                   f"{student['sizes']} (Keras retraces once to relax the batch size; more means "
                   "Python in train_step depends on the batch: use tf.shape(x), not x.shape, "
                   "and no Python numbers that change per step)")


def gaussian_points(rng, n: int = 64):
    """The usual data(rng) for 2-D models: n standard normal points, float32."""
    return rng.normal(size=(n, 2)).astype("float32")


def compile_with_adam(model, jit_compile="auto") -> None:
    """The usual compile_model: Adam at 1e-3 (Keras wraps it for loss scaling itself)."""
    import keras
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)


def checks_for(module: str, model: str, *, build, data, uses, compile_model=compile_with_adam,
               points: float = 1, scale_hint: str = "", trace_hint: str = "",
               task: str = "`train_step`") -> tuple:
    """The three readiness checks of one model, for a lab's `readiness.py`:

        gan_trains_with_xla, gan_trains_in_mixed_precision, gan_train_step_traces_at_most_twice = \\
            readiness.checks_for(__name__, "gan", build=..., compile_model=..., data=..., uses=...)

    build(lab) returns a function making a fresh model; compile_model(model, jit_compile=...)
    compiles it (default: compile_with_adam); data(rng) returns a training array, or a
    tuple (x, y) for a model trained on targets; `task` names the code the checks exercise,
    for the handout's table. Names must be bound at module level so the grader finds the
    checks.
    """
    from autograder.api import check

    def named(name, **options):
        def wrap(probe):
            chk = check(points, reference=False, uses=uses, name=f"{model}_{name}", task=task,
                        **options)(probe)
            chk.module = module
            return chk
        return wrap

    @named("trains_with_xla", timeout=60,
           hint="only TensorFlow/Keras ops in train_step and what it calls (no numpy, no .numpy())")
    def xla(lab, rng):
        """GPU readiness: `train_step` compiles with XLA (`jit_compile=True`), and trains."""
        return jit_trains(build(lab), compile_model, data(rng), batch_size=32, steps=2)

    @named("trains_in_mixed_precision", hint=scale_hint or (
        "inside the tape: scaled = self.optimizer.scale_loss(loss), then "
        "tape.gradient(scaled, ...); compute losses in float32"))
    def mixed(lab, rng):
        """GPU readiness: training under the `mixed_float16` policy scales the loss and
        moves the weights."""
        # Four steps: dynamic loss scaling may skip the first ones while it finds its scale.
        return mixed_precision_trains(build(lab), compile_model, data(rng), batch_size=16,
                                      steps=4)

    @named("train_step_traces_at_most_twice", hint=trace_hint or (
        "use tf.shape(x)[0] for the batch size, not x.shape[0]: the last batch is smaller"))
    def traces(lab, rng):
        """GPU readiness: `fit` over five batch sizes traces `train_step` at most twice."""
        return traces_over_batch_sizes(build(lab), compile_model, data(rng))

    xla.verdict(lambda student, reference: judge_jit(student))
    mixed.verdict(lambda student, reference: judge_mixed_precision(student))
    traces.verdict(lambda student, reference: judge_traces(student))
    return xla, mixed, traces
