"""Records, source adapters, redaction and the pure logic of sentrec (no torch, prefect or SQL)."""
