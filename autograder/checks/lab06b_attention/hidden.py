"""Hidden checks of lab06b_attention: the tasks, encoders, mask, attention and beam search
on fresh (random) sizes, lengths, vocabularies and widths; attention on float16 inputs (as
under mixed precision) and on a single decoder step."""
from autograder.api import check
from autograder.checks.lab06b_attention.probes import (
    ATTENTION,
    BEAM,
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
    beam_probe,
    judge_attention,
    judge_exhaustive,
    judge_greedy,
    judge_mask,
    judge_narrow,
    mask_probe,
)


@check(points=1, uses=TASKS, reference=False, hint="any n, length and number of digits")
def tasks_other_sizes(lab, rng):
    return [task_probe(lab, rng, "copy", 200, int(rng.integers(1, 12)), reverse=True),
            task_probe(lab, rng, "add", 400, int(rng.integers(1, 6))),
            task_probe(lab, rng, "count", 300, int(rng.integers(30, 90)))]


@tasks_other_sizes.verdict
def _(student, _reference):
    for run in student:
        judge_task(run)


@check(points=1, uses=ENCODERS, reference=False, hint="any batch, length, width and units")
def bidirectional_other_sizes(lab, rng):
    return bidirectional_probe(lab, rng, batch=int(rng.integers(1, 6)),
                               length=int(rng.integers(2, 9)), input_dim=int(rng.integers(1, 6)),
                               units=int(rng.integers(1, 6)))


bidirectional_other_sizes.verdict(judge_bidirectional)


@check(points=1, uses=ENCODERS, reference=False, hint="any number of layers")
def stacked_encoder_other_depths(lab, rng):
    return stacked_probe(lab, rng, batch=int(rng.integers(1, 5)), length=int(rng.integers(2, 7)),
                         input_dim=int(rng.integers(1, 6)), units=int(rng.integers(1, 5)),
                         depths=(1, int(rng.integers(3, 5))))


stacked_encoder_other_depths.verdict(judge_stacked)


@check(points=1, uses=ATTENTION, hint="any number of rows and positions")
def lengths_to_mask_other_sizes(lab, rng):
    size = int(rng.integers(1, 12))
    return mask_probe(lab, rng, rng.integers(0, size + 1, size=int(rng.integers(1, 9))), size)


lengths_to_mask_other_sizes.verdict(judge_mask)


@check(points=1, uses=ATTENTION, hint="any sizes, a single decoder step included")
def additive_attention_other_sizes(lab, rng):
    sources = int(rng.integers(2, 9))
    batch = int(rng.integers(2, 5))
    return attention_probe(lab, rng, batch=batch, queries=1, sources=sources,
                           query_dim=int(rng.integers(1, 6)), key_dim=int(rng.integers(1, 6)),
                           units=int(rng.integers(1, 9)),
                           lengths=rng.integers(1, sources + 1, size=batch))


additive_attention_other_sizes.verdict(judge_attention)


@check(points=1, uses=ATTENTION, hint="compute the scores and the softmax in float32 and cast "
                                      "the results back to the keys' dtype")
def additive_attention_in_float16(lab, rng):
    return attention_probe(lab, rng, batch=3, queries=3, sources=5, query_dim=4, key_dim=4,
                           units=6, lengths=[5, 3, 1], dtype="float16")


additive_attention_in_float16.verdict(judge_attention)


@check(points=1, uses=BEAM, hint="any vocabulary and length")
def beam_search_other_vocabularies(lab, rng):
    vocab = int(rng.integers(2, 6))
    length = {2: 6, 3: 5, 4: 4, 5: 3}[vocab]
    return beam_probe(lab, rng, vocab=vocab, max_length=length, widths=(vocab ** length,),
                      end_biases=(float(rng.uniform(-2, 1.5)),))


beam_search_other_vocabularies.verdict(judge_exhaustive)


@check(points=1, uses=BEAM, hint="width 1 is greedy decoding, for any vocabulary")
def beam_width_one_other_vocabularies(lab, rng):
    return beam_probe(lab, rng, vocab=int(rng.integers(3, 12)), max_length=int(rng.integers(1, 9)),
                      widths=(1,), end_biases=(float(rng.uniform(-3, 1)),))


beam_width_one_other_vocabularies.verdict(judge_greedy)


@check(points=1, uses=BEAM, hint="the same pool, for any width")
def beam_search_other_widths(lab, rng):
    return beam_probe(lab, rng, vocab=int(rng.integers(3, 8)), max_length=int(rng.integers(3, 7)),
                      widths=(int(rng.integers(2, 5)), int(rng.integers(5, 9))),
                      end_biases=(float(rng.uniform(-2, 1)), float(rng.uniform(-2, 1))))


beam_search_other_widths.verdict(judge_narrow)
