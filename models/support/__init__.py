"""Similar resolved support cases: the turn encoder and the case index."""
