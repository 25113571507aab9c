"""A fixture lab for the warm zygote: its one check reports facts about the worker process.

`impl/subject.py` is an honest submission; the tests write a copy that tampers with the
process at import, to prove the next worker does not inherit it.
"""
MODULES = ("subject",)
