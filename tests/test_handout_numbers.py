"""Every handout states what the reference reaches, and the reference reaches it."""
from __future__ import annotations

import pytest

from autograder import SOLUTIONS, references
from tests.conftest import LABS
from tests.handout_numbers import claims_of, measure


@pytest.mark.parametrize("lab", LABS)
def test_handout_numbers_are_held_by_the_reference(lab):
    claims = claims_of(lab)
    assert claims, f"tests/handout_numbers/{lab}.py states none of the handout's numbers"
    handout = " ".join((SOLUTIONS / lab / "README.md").read_text().split())
    stored = references.load(lab)
    for claim in claims:
        assert " ".join(claim.phrase.split()) in handout, (
            f"{lab}: the handout no longer says {claim.phrase!r}")
        value = measure(claim, stored[claim.check])
        if claim.at_least is not None:
            assert value >= claim.at_least, f"{lab} {claim.check}: {value:.4g}"
        if claim.at_most is not None:
            assert value <= claim.at_most, f"{lab} {claim.check}: {value:.4g}"
        assert claim.at_least is not None or claim.at_most is not None, claim
