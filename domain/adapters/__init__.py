"""Source adapters: one raw format in, canonical records and rejects out."""
