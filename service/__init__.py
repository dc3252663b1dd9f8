"""The read-only lookup service (FastAPI)."""
