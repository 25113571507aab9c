"""The helpers that several labs' checks share."""
from __future__ import annotations

import json
import types

import pytest

from autograder.api import CheckFailed
from autograder.check_helpers import constructor_arguments, judge_config, standing_in


def test_standing_in_replaces_names_and_puts_them_back_even_on_error():
    module = types.SimpleNamespace(loss=abs)
    with pytest.raises(RuntimeError):
        with standing_in(module, loss=round, extra=len):
            assert module.loss is round and module.extra is len
            raise RuntimeError
    assert module.loss is abs and not hasattr(module, "extra")


class Block:
    def __init__(self, filters, strides=1, *args, name=None, **kwargs):
        pass


def test_constructor_arguments_leave_out_self_and_catch_alls():
    assert constructor_arguments(Block) == ["filters", "strides", "name"]


def test_judge_config_names_a_missing_or_wrong_argument():
    judge_config(json.dumps({"filters": 8, "scale": 0.1000001}), {"filters": 8, "scale": 0.1},
                 "Block")
    with pytest.raises(CheckFailed, match=r"leaves out \['strides'\]"):
        judge_config(json.dumps({"filters": 8}), {"filters": 8, "strides": 2}, "Block")
    with pytest.raises(CheckFailed, match=r"\['strides'\] is 1, it was built with 2"):
        judge_config(json.dumps({"filters": 8, "strides": 1}), {"filters": 8, "strides": 2},
                     "Block")
