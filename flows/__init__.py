"""Prefect flows, the ``sentrec`` CLI and deployments: thin layers over domain/models/storage.

Prefect reads its settings from the environment once, when it is first imported, and the
modules of this package import it; so its defaults are set here, before any of them loads.
Each is only a default: a value already in the environment wins.
"""

from __future__ import annotations

import os
from pathlib import Path

PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # A loaded machine can take minutes to start the temporary server; 120 s failed there.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    # Run-by-run chatter stays out of the CLI's output; `-v` or this variable brings it back.
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # Tokenizer training is reproducible only on one thread (vocabulary ties order by thread).
    "TOKENIZERS_PARALLELISM": "false",
    # Prefect's own files (its database, its logs) live in sentrec's home (domain.settings:
    # SENTREC_HOME, default .sentrec), resolved from where the command runs.
    "PREFECT_HOME": str((Path(os.environ.get("SENTREC_HOME") or ".sentrec").expanduser()
                         / "prefect").resolve()),
}
for _name, _value in PREFECT_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
