"""Model artifacts: weights, config and an extra payload in one file, checked by sha256 on load.

``torch.load(weights_only=True)`` refuses pickled code, so a checkpoint may only hold tensors,
numbers, strings, lists, tuples and dicts (convert numpy arrays with ``torch.from_numpy`` or
``.tolist()``). The sha256 returned by ``save_checkpoint`` is what ``model_versions`` records;
``load_checkpoint`` refuses a file whose bytes no longer match it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from domain.readers import file_sha256

FORMAT_VERSION = 1


class ChecksumMismatchError(ValueError):
    """A checkpoint's bytes differ from the sha256 recorded for it."""


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds."""

    state_dict: dict[str, torch.Tensor]
    config: dict[str, Any]
    extra: dict[str, Any]


def save_checkpoint(path: Path | str, *, model: nn.Module, config: Any,
                    extra: dict[str, Any] | None = None) -> str:
    """Write weights + config (a dataclass) + extra atomically; return the file's sha256."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a dataclass instance, got {type(config).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format_version": FORMAT_VERSION,
        "state_dict": {name: t.detach().cpu() for name, t in model.state_dict().items()},
        "config": dataclasses.asdict(config),
        "extra": extra or {},
    }
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)  # a reader never sees half a file
    return file_sha256(path)


def load_checkpoint(path: Path | str, *, sha256: str) -> Checkpoint:
    """Read a checkpoint after checking its sha256 against the one recorded when it was saved."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist; check the artifact path "
                                "recorded in model_versions, or retrain the model")
    actual = file_sha256(path)
    if actual != sha256.lower():
        raise ChecksumMismatchError(
            f"checkpoint {path}: sha256 is {actual} but {sha256} was recorded for it; the file "
            "was changed or replaced after it was saved. Restore the original file or retrain "
            "and register the new version; do not load this one."
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"checkpoint {path} has format version "
                         f"{payload.get('format_version')!r}; this code reads {FORMAT_VERSION}")
    return Checkpoint(state_dict=payload["state_dict"], config=payload["config"],
                      extra=payload["extra"])
