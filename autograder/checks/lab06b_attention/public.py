"""Public checks of lab06b_attention: the tasks, the encoders, the mask, additive attention
and the training check.

The task generators are judged by invariants (no reference: any way of drawing the digits
is right): answers recomputed from the sources, seeding, ranges. bidirectional is compared
with keras.layers.Bidirectional and StackedBiEncoder with a keras.Sequential of its own
Bidirectional layers, additive_attention with an independent numpy computation (see
probes_attention.py).
"""
from autograder.api import check
from autograder.checks.lab06b_attention.probes import (
    ATTENTION,
    ENCODERS,
    TASKS,
    bidirectional_probe,
    judge_bidirectional,
    judge_stacked,
    judge_task,
    stacked_probe,
    task_probe,
)
from autograder.checks.lab06b_attention.probes_attention import (
    attention_probe,
    judge_attention,
    judge_mask,
    judge_training,
    mask_probe,
    training_probe,
)

# The budget of attention_beats_no_attention, stated in the handout.
TRAIN = {"length": 8, "train_size": 2048, "test_size": 200, "embed_dim": 16, "units": 32,
         "learning_rate": 0.01, "batch_size": 64, "epochs": 4}
# Over seeds 0-23 at this budget the reference's token accuracy ranges from 92.8 % to 100 %
# (median 99.9 %) and its mean weight on the mirrored position from 0.54 to 0.86 (median
# 0.81); the same model without attention reaches 61.7 % to 65.8 % (seeds 0-7), and
# attention that ignores the query (weights all 1) 74 % to 79 % (seeds 0-3).
MARGIN = 0.12          # token accuracy within 12 points of the reference's attention model
MIRROR_MARGIN = 0.30   # attention on the mirrored position within 0.3 of the reference's

# ---------------------------------------------------------------------------------------------
# 1. The tasks
# ---------------------------------------------------------------------------------------------


@check(points=1, uses=TASKS, reference=False, task="`make_copy_task`",
       hint="sources = rng.integers(0, 10, size=(n, length)), int32; targets a copy, or "
            "sources[:, ::-1] with reverse=True; draw from the rng argument only")
def copy_task(lab, rng):
    """300 sequences of 7 digits, copied and reversed: targets recomputed from the sources,
    digits uniform in 0..9, the same data from the same seed and other data from another."""
    return [task_probe(lab, rng, "copy", 300, 7, reverse=reverse) for reverse in (False, True)]


@copy_task.verdict
def _(student, _reference):
    for run in student:
        judge_task(run)


@check(points=2, uses=TASKS, reference=False, task="`make_add_task`",
       hint="a, b = rng.integers(0, 10 ** num_digits, size=n); sources: digits_of(a), PLUS, "
            "digits_of(b); targets: digits_of(a + b, num_digits + 1), most significant first")
def add_task(lab, rng):
    """300 additions of 3-digit numbers: every target is the digits of the sum of the two
    numbers in its source (checked with Python integers), the sums span the range, seeded;
    then 2000 of 1 digit, where every number 0..9 and the largest sum 18 must appear."""
    return [task_probe(lab, rng, "add", 300, 3), task_probe(lab, rng, "add", 2000, 1)]


@add_task.verdict
def _(student, _reference):
    for run in student:
        judge_task(run)


@check(points=2, uses=TASKS, reference=False, task="`make_count_task`",
       hint="query = rng.integers(0, 10, size=n), digits (n, length); count = (digits == "
            "query[:, None]).sum(1); sources: query then digits; targets: digits_of(count, 2)")
def count_task(lab, rng):
    """300 questions over 12 digits: every target is the count of the query digit among
    the digits after it (checked with `collections.Counter`), counts from 0 up, seeded."""
    return task_probe(lab, rng, "count", 300, 12)


count_task.verdict(judge_task)

# ---------------------------------------------------------------------------------------------
# 2. Encoders
# ---------------------------------------------------------------------------------------------


@check(points=2, uses=ENCODERS, reference=False, task="`bidirectional`",
       hint="backward reads ops.flip(inputs, axis=1); flip its outputs back; concatenate "
            "[forward, backward] outputs on the last axis and [forward, backward] final states")
def bidirectional_matches_keras(lab, rng):
    """Two GRUs holding the weights of a `keras.layers.Bidirectional(GRU)` (5 sequences of 6
    steps, 3 units): the outputs and the final states against that layer's, the known slips
    named (backward reading forwards, outputs not flipped back, halves swapped)."""
    return bidirectional_probe(lab, rng, batch=5, length=6, input_dim=4, units=3)


bidirectional_matches_keras.verdict(judge_bidirectional)


@check(points=2, uses=ENCODERS, reference=False, task="`StackedBiEncoder.call`",
       hint="each Bidirectional layer reads the previous layer's whole output sequence; "
            "states[k] = ops.concatenate([forward_state, backward_state], -1) of layer k")
def stacked_encoder(lab, rng):
    """An encoder of 2 layers with random weights: the top layer's outputs (shape
    (N, S, 2U)) against a `keras.Sequential` of the same Bidirectional layers, and one state
    (N, 2U) per layer, [forward final, backward final], read from that layer's outputs."""
    return stacked_probe(lab, rng, batch=3, length=5, input_dim=4, units=3, depths=(2,))


stacked_encoder.verdict(judge_stacked)

# ---------------------------------------------------------------------------------------------
# 3. Attention
# ---------------------------------------------------------------------------------------------


@check(points=1, uses=ATTENTION, task="`lengths_to_mask`",
       hint="positions (a row, ops.arange(max_length)) < lengths (a column); TensorFlow/Keras "
            "ops so that it runs inside fit")
def lengths_to_mask(lab, rng):
    """Masks of the lengths 0, 1, 4, 6 and 3 over 6 positions, on an array and inside a
    `tf.function`."""
    return mask_probe(lab, rng, [0, 1, 4, 6, 3], 6)


lengths_to_mask.verdict(judge_mask)


@check(points=3, uses=ATTENTION, task="`additive_attention`",
       hint="scores (N, T, S) = tanh(keys @ w_keys [:, None] + query @ w_query [:, :, None]) @ v, "
            "all cast to float32 first; masked scores very negative; softmax over the LAST axis; "
            "context = weights @ keys; both cast back to the keys' dtype")
def additive_attention(lab, rng):
    """3 sources of 6 positions (lengths 6, 4 and 2, one mask with holes), 4 decoder steps,
    on check-defined weights: the weights and context vectors against an independent numpy
    computation, and with `mask=None`; the known slips are named (softmax over the wrong
    axis, mask off by one, no tanh, mask ignored, masked after the softmax, scores divided by
    sqrt(A), masked scores 0). Then on float16 inputs with large scores (|e| ~ 400): results
    in float16, as accurate as float32 arithmetic rounded to float16."""
    sizes = dict(batch=3, queries=4, sources=6, query_dim=5, key_dim=3, units=7,
                 lengths=[6, 4, 2])
    return [attention_probe(lab, rng, **sizes),
            attention_probe(lab, rng, **sizes, dtype="float16", large_scores=True)]


@additive_attention.verdict
def _(student, reference):
    for run, expected in zip(student, reference):
        judge_attention(run, expected)


@check(points=3, uses=ATTENTION, timeout=60, task="`additive_attention`",
       hint="the model reads your additive_attention at every decoder step: the weights must "
            "be a softmax over the source positions of v . tanh(keys W1 + query W2)")
def attention_beats_no_attention(lab, rng):
    """Trained on reversal for the budget below: the attention model's held-out token
    accuracy comes within 12 points of the reference's (over 20 points above what the same
    model without attention reaches, see below), and its weights fall on the mirrored
    position (on a stand-in `lengths_to_mask` allowing everything)."""
    return training_probe(lab, rng, TRAIN)


@attention_beats_no_attention.verdict
def _(student, reference):
    judge_training(student, reference, MARGIN, MIRROR_MARGIN)
