"""Support models: what a customer wants (intent) from short messages."""
