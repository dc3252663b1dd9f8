"""Prefect flows, the ``sentrec`` CLI and deployments: thin layers over domain/models/storage."""
