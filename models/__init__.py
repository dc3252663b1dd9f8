"""Torch models, training loop, checkpoints and baselines of sentrec (no database access)."""
