"""Support models: what a customer wants (intent), and the index of similar resolved cases."""
