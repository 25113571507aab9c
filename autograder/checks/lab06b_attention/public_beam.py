"""Public checks of lab06b_attention, part 2: beam search (beam.py) on check-defined
decoders, against exhaustive search (every sequence enumerated with itertools.product),
against greedy decoding at width 1, and against the reference at widths 2 and 3; every
returned score must be the log-probability of the returned tokens."""
from autograder.api import check
from autograder.checks.lab06b_attention.probes import BEAM
from autograder.checks.lab06b_attention.probes_attention import (
    beam_probe,
    judge_exhaustive,
    judge_greedy,
    judge_narrow,
)

# A beam of 256 holds every hypothesis of 4 tokens over a vocabulary of 4 (4^4 = 256).
EXHAUSTIVE = {"vocab": 4, "max_length": 4, "widths": (256,), "end_biases": (1.0, 0.0, -1.5)}


@check(points=3, uses=BEAM, task="`beam_search`",
       hint="score = sum of log-probabilities, END's included; a hypothesis ending in END is "
            "finished and never extended; after max_length steps the running ones finish too")
def beam_search_matches_exhaustive_search(lab, rng):
    """A beam wide enough to keep every hypothesis (4 tokens, END among them, at most 4
    long) on three check-defined decoders (END likely, even, unlikely) finds the best
    sequence of exhaustive search, with its log-probability as score."""
    return beam_probe(lab, rng, **EXHAUSTIVE)


beam_search_matches_exhaustive_search.verdict(judge_exhaustive)


@check(points=1, uses=BEAM, task="`beam_search`",
       hint="with beam_width=1 keep the single best extension of the single hypothesis")
def beam_width_one_is_greedy(lab, rng):
    """Beam width 1 on four check-defined decoders (6 tokens, at most 6 long) gives greedy
    decoding, stopping at END."""
    return beam_probe(lab, rng, vocab=6, max_length=6, widths=(1,),
                      end_biases=(1.0, 0.0, -1.0, -3.0))


beam_width_one_is_greedy.verdict(judge_greedy)


@check(points=2, uses=BEAM, task="`beam_search`",
       hint="one pool: the beam_width best of (every running hypothesis x every token); END "
            "ones leave the beam (finished), the beam shrinks; ties: earlier hypothesis first")
def beam_search_narrow_beams(lab, rng):
    """Widths 2 and 3 on four check-defined decoders (5 tokens, at most 5 long): the
    sequences against the reference's."""
    return beam_probe(lab, rng, vocab=5, max_length=5, widths=(2, 3),
                      end_biases=(1.0, 0.0, -0.5, -2.0))


beam_search_narrow_beams.verdict(judge_narrow)
