"""Plain data only crosses the worker boundary."""
import numpy as np
import pytest

from autograder import wire


def roundtrip(value):
    return wire.from_plain(wire.loads(wire.dumps({"v": wire.to_plain(value)}))["v"])


def test_nested_data_with_arrays_survives_the_trip():
    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "n": 3, "s": "x",
             "l": [1.5, None, True], "scalar": np.float64(2.5), "nan": float("nan")}
    back = roundtrip(value)
    assert back["a"].dtype == np.float32 and back["a"].shape == (2, 3)
    np.testing.assert_array_equal(back["a"], value["a"])
    assert back["n"] == 3 and back["s"] == "x" and back["l"] == [1.5, None, True]
    assert back["scalar"] == 2.5 and np.isnan(back["nan"])
    assert back["scalar"].shape == () and roundtrip(np.float32(1)).shape == ()


def test_tensors_are_converted_through_numpy():
    class FakeTensor:
        def numpy(self):
            return np.ones(2, dtype=np.int32)
    np.testing.assert_array_equal(roundtrip(FakeTensor()), [1, 1])


@pytest.mark.parametrize("value", [object(), np.array(["a"], dtype=object), {1: 2},
                                   np.array(["text"])])
def test_objects_and_non_numeric_arrays_are_refused(value):
    with pytest.raises(wire.WireError):
        wire.to_plain(value)


def test_a_subclass_claiming_equality_is_refused():
    class Liar(float):
        def __eq__(self, other):
            return True
    with pytest.raises(wire.WireError):
        wire.to_plain(Liar(1.0))


def test_decoding_refuses_object_dtypes():
    with pytest.raises(wire.WireError):
        wire.from_plain({wire.ARRAY_TAG: "", "dtype": "|O", "shape": [0]})
