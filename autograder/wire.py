"""Plain data across the process boundary: JSON with numpy arrays, never pickles.

A probe's result may be None, bool, int, float, str, lists/tuples, dicts with string keys,
numpy arrays of numeric dtype, or anything with a `.numpy()` method (tensors). Arrays travel
as raw bytes with an explicit dtype and shape, so no code runs when they are decoded.
"""
from __future__ import annotations

import base64
import json

import numpy as np

_NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float
ARRAY_TAG = "__ndarray__"


class WireError(TypeError):
    """A value that cannot cross the boundary as plain data."""


def to_plain(value, where: str = "result"):
    """Convert a probe result to JSON-ready data (runs in the worker)."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise WireError(f"{where} has a dict key of type {type(key).__name__}; keys must be str")
            out[key] = to_plain(item, f"{where}[{key!r}]")
        return out
    if type(value) in (list, tuple):
        return [to_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if isinstance(value, (np.generic, np.ndarray)):
        array = np.asarray(value)
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise WireError(f"{where} is an array of dtype {array.dtype}; expected numbers")
        array = np.ascontiguousarray(array).reshape(array.shape)  # keeps 0-d arrays 0-d
        return {ARRAY_TAG: base64.b64encode(array.tobytes()).decode("ascii"),
                "dtype": array.dtype.str, "shape": list(array.shape)}
    raise WireError(f"{where} is a {type(value).__module__}.{type(value).__qualname__}, "
                    "not a number, string, list, dict, array or tensor")


def from_plain(data):
    """Rebuild numpy arrays from JSON-ready data (runs in the grading process)."""
    if isinstance(data, dict):
        if ARRAY_TAG in data:
            dtype = np.dtype(data["dtype"])
            if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject:
                raise WireError(f"refusing array of dtype {dtype}")
            raw = base64.b64decode(data[ARRAY_TAG])
            return np.frombuffer(raw, dtype=dtype).reshape(data["shape"]).copy()
        return {key: from_plain(item) for key, item in data.items()}
    if isinstance(data, list):
        return [from_plain(item) for item in data]
    return data


def dumps(message: dict) -> bytes:
    """One message per line; json never emits a raw newline inside a line."""
    return (json.dumps(message, allow_nan=True) + "\n").encode("utf-8")


def loads(line: bytes) -> dict:
    message = json.loads(line.decode("utf-8"))
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message
