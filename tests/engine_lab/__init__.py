"""A fixture lab for testing the engine itself: probes that misbehave on purpose.

`impl/subject.py` is the "submission"; each public check drives one misbehaviour, and the
`healthy_*` checks after them prove that grading goes on in a fresh worker.
"""
MODULES = ("subject",)
