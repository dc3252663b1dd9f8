"""What every bench script shares: where results go, where the real datasets are, the machine."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def default_data_dir() -> Path:
    """``SENTREC_DATA_DIR``, else the shared data folder beside the repository."""
    return Path(os.environ.get("SENTREC_DATA_DIR", REPO.parent / "shared" / "data"))


def machine(**extra: Any) -> dict[str, Any]:
    """What a figure was measured on."""
    import torch

    return {"cpus": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "torch": torch.__version__, **extra}


def write_results(name: str, data: Any, markdown: str) -> None:
    """``bench/results/NAME.json`` and ``NAME.md``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown.rstrip() + "\n")
