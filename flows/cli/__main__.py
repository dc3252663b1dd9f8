"""``python -m flows.cli``: the same as the ``sentrec`` command."""

from flows.cli.app import run

run()
