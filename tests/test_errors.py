"""Failure messages say what and where, in one clean line."""
from __future__ import annotations

from pathlib import Path

from autograder.errors import describe

KERAS_FRAMED = ("Exception encountered when calling Embedding.call().\n\n"
                "\x1b[1mangles t * w; sines then cosines\x1b[0m\n\n"
                "Arguments received by Embedding.call():\n  • t=tf.Tensor(shape=(3,), dtype=int32)")


def _raised(error):
    try:
        raise error
    except BaseException as caught:  # noqa: BLE001
        return caught


def _raised_by(function, *args):
    try:
        function(*args)
    except Exception as caught:  # noqa: BLE001
        return caught
    raise AssertionError(f"{function.__name__} did not raise")


def test_keras_frame_and_colour_codes_are_removed():
    message = describe(_raised(NotImplementedError(KERAS_FRAMED)), Path(__file__).parent)
    assert message == ("not implemented yet (test_errors.py:15 in _raised): "
                       "angles t * w; sines then cosines")
    message = describe(_raised(ValueError(KERAS_FRAMED)), Path(__file__).parent)
    assert message.endswith("ValueError: angles t * w; sines then cosines")


def test_plain_messages_are_kept():
    message = describe(_raised(ValueError("shapes (3, 4) and (5,) differ")), Path(__file__).parent)
    assert message == "test_errors.py:15 in _raised: ValueError: shapes (3, 4) and (5,) differ"


def test_a_none_returned_to_the_checks_code_is_named_as_such():
    def check_code(value):
        return value.shape   # raises in the check, not in the student's folder

    message = describe(_raised_by(check_code, None), Path(__file__).parent / "elsewhere")
    assert message.startswith("a function under test returned None") and "pass" in message


def test_a_librarys_not_implemented_error_is_not_called_a_todo(tmp_path):
    def library_code():
        raise NotImplementedError("Cannot convert a symbolic tf.Tensor to a numpy array")

    message = describe(_raised_by(library_code), tmp_path)
    assert "not implemented yet" not in message and "symbolic" in message


def test_a_train_step_returning_none_is_named():
    # What Keras's fit raises when train_step returns None.
    error = ValueError("Attempt to convert a value (None) with an unsupported type to a Tensor "
                       "... OptionalFromValue ... list of length 0")
    message = describe(_raised(error), Path(__file__).parent)
    assert message.startswith("train_step returned None: it must return its logs")


def test_a_librarys_error_behind_filtered_frames_is_not_called_a_todo(tmp_path):
    # TensorFlow and Keras filter their own frames out of tracebacks, so the last frame left
    # can be the student's line that called the library (numpy on a symbolic tensor).
    (tmp_path / "masks.py").write_text("def lengths_to_mask(lengths, library):\n"
                                       "    return library(lengths)\n")
    import importlib.util
    spec = importlib.util.spec_from_file_location("masks", tmp_path / "masks.py")
    masks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(masks)

    def library(_):
        raise NotImplementedError("Cannot convert a symbolic tf.Tensor to a numpy array")

    error = _raised_by(masks.lengths_to_mask, 3, library)
    frame = error.__traceback__
    while frame.tb_next.tb_next is not None:
        frame = frame.tb_next
    frame.tb_next = None    # the library's frame, filtered away
    message = describe(error, tmp_path)
    assert message.startswith("masks.py:2 in lengths_to_mask: NotImplementedError"), message
    assert "symbolic" in message
