"""Sentence vectors from the offline MiniLM, frozen: mean pooling over tokens, unit length.

all-MiniLM-L6-v2 was trained as a sentence encoder with exactly this pooling (its
``1_Pooling`` config: mean of token vectors, then L2 normalisation), so its vectors can be
used as they come, with no fine-tuning: a linear classifier over them is the cheap, strong
intent recipe (Casanueva et al. 2020 use frozen USE/ConveRT vectors the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from domain.readers import file_sha256
from models.sentiment.data import bucketed_order, pad_batch
from models.sentiment.distil import score_within
from models.sentiment.minilm import minilm_path, minilm_tokenizer
from models.sentiment.tokenizer import TextTokenizer


@dataclass(frozen=True)
class EmbedConfig:
    """How texts become vectors."""

    max_tokens: int = 64  # content tokens kept; Banking77's longest query (79 words) has ~100,
    # the median 10 words: the first 64 carry the request
    batch_size: int = 128  # length-sorted batches, so padding stays small
    int8: bool = True  # dynamic int8 Linear layers: faster on CPU (measured in the bench)


class MeanPooledEncoder(nn.Module):
    """A transformer encoder whose token vectors are averaged over real tokens, unit length."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (B,T,C)
        weights = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        pooled = (h * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)  # (B, C)
        return nn.functional.normalize(pooled, dim=-1)


@cache
def encoder_sha256() -> str:
    """The checksum of the MiniLM weights file: a saved model records it and refuses to run
    on other weights (its classifier was fitted on these vectors)."""
    return file_sha256(minilm_path() / "model.safetensors")


class SentenceEmbedder:
    """Texts in, (N, 384) unit vectors out."""

    def __init__(self, config: EmbedConfig | None = None) -> None:
        from transformers import AutoModel

        from models.sentiment.predict import quantize_int8

        self.config = config or EmbedConfig()
        self.tokenizer: TextTokenizer = minilm_tokenizer()
        encoder = AutoModel.from_pretrained(minilm_path())
        self.width = int(encoder.config.hidden_size)
        model: nn.Module = MeanPooledEncoder(encoder).eval()
        self.model = quantize_int8(model) if self.config.int8 else model

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Unit vectors (N, width) in input order."""
        seqs = [self.tokenizer.frame(e.ids[:self.config.max_tokens] or [self.tokenizer.unk_id])
                for e in self.tokenizer.encode_batch(list(texts))]
        out = np.zeros((len(seqs), self.width), dtype=np.float32)
        for rows in bucketed_order([len(s) for s in seqs], self.config.batch_size):
            ids, mask = pad_batch([seqs[i] for i in rows], self.tokenizer.pad_id)
            out[rows] = self.model(ids, mask).float().numpy()
        return out

    def embed_within(self, texts: Sequence[str], *, deadline: float | None, chunk: int,
                     what: str) -> NDArray[np.float32]:
        """Vectors of the texts in order, ``chunk`` at a time, until ``deadline`` (on the
        ``time.perf_counter`` clock) has passed: those of a prefix, at least the first chunk.
        Each chunk logs its progress (``models.sentiment.distil.score_within``)."""
        parts = score_within(self.embed, texts, deadline=deadline, chunk_size=chunk, what=what,
                             at_least=1)
        return np.concatenate(parts) if parts else np.zeros((0, self.width), np.float32)
