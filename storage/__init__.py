"""The SQL store: schema, engine, migrations and keyword-only store functions."""
