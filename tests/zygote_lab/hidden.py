"""The fixture lab has no hidden checks."""
