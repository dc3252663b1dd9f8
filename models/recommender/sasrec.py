"""SASRec: a causal transformer over a user's item sequence (Kang & McAuley, ICDM 2018).

The model maps item sequences to hidden states; its losses are in ``models.recommender.losses``.
Batches are left-padded with item 0, so the last position is always the newest item.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.layers import init_weights


@dataclass(frozen=True)
class SASRecConfig:
    """Shape and regularisation of a SASRec model."""

    n_items: int  # catalogue size N: items are 1..N, 0 pads
    max_len: int = 200  # longest history read; SASRec's value for ML-1M
    d_model: int = 64  # SASRec used 50; 64 keeps matrix sizes friendly to SIMD
    n_blocks: int = 2  # SASRec: 2 blocks
    n_heads: int = 1  # SASRec: 1 head; more did not help it
    d_ff: int = 128  # small on purpose: a 2048-wide FFN is ~6x slower on CPU (STACK.md)
    dropout: float = 0.2  # SASRec's ML-1M value; sparse data (Amazon) wants ~0.5
    # Dropout on attention weights forces the unfused attention path: 2x slower on CPU (measured).
    attn_dropout: float = 0.0
    text_dim: int = 0  # width of fixed item-text vectors fused into item vectors; 0 = none


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where a position sees itself and earlier real items."""

    def __init__(self, config: SASRecConfig) -> None:
        super().__init__()
        if config.d_model % config.n_heads:
            raise ValueError(f"d_model {config.d_model} is not divisible by n_heads "
                             f"{config.n_heads}")
        self.n_heads = config.n_heads
        self.dropout = config.attn_dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.resid_drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``mask`` (B, 1, T, T), True = may attend; None means plain causal (no padding)."""
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q = q.view(batch, length, self.n_heads, -1).transpose(1, 2)  # (B, H, T, hd)
        k = k.view(batch, length, self.n_heads, -1).transpose(1, 2)  # (B, H, T, hd)
        v = v.view(batch, length, self.n_heads, -1).transpose(1, 2)  # (B, H, T, hd)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=mask is None,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, T, hd)
        y = y.transpose(1, 2).reshape(batch, length, width)  # (B, T, C)
        out: torch.Tensor = self.resid_drop(self.proj(y))
        return out


class FeedForward(nn.Module):
    """Position-wise two-layer MLP."""

    def __init__(self, config: SASRecConfig) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(config.d_model, config.d_ff),
            nn.GELU(),
            nn.Linear(config.d_ff, config.d_model),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


class Block(nn.Module):
    """Pre-norm transformer block: pre-norm trains stably without warm-up (Xiong et al. 2020)."""

    def __init__(self, config: SASRecConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.ff = FeedForward(config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), mask)
        out: torch.Tensor = x + self.ff(self.norm2(x))
        return out


class SASRec(nn.Module):
    """Item sequence -> hidden state per position; item vectors double as output weights."""

    def __init__(self, config: SASRecConfig, item_text: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.item_emb = nn.Embedding(config.n_items + 1, d, padding_idx=0)
        self.pos_emb = nn.Embedding(config.max_len, d)
        self.emb_drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_blocks))
        self.norm = nn.LayerNorm(d)
        self.text_proj: nn.Linear | None = None
        if item_text is not None:
            expected = (config.n_items + 1, config.text_dim)
            if tuple(item_text.shape) != expected:
                raise ValueError(f"item_text has shape {tuple(item_text.shape)}, expected "
                                 f"{expected} (row 0 = padding, zeros); set text_dim to match")
            # A buffer, not a parameter: the text vectors are fixed and travel with the weights.
            text = item_text.detach().float().clone()
            text[0] = 0.0  # the padding item must stay the zero vector
            self.register_buffer("item_text", text)
            self.text_proj = nn.Linear(config.text_dim, d, bias=False)
        self.apply(init_weights)

    def item_vectors(self) -> torch.Tensor:
        """(N+1, d) vector per item; row 0 (padding) is zero."""
        vectors = self.item_emb.weight
        if self.text_proj is not None:
            text: torch.Tensor = self.get_buffer("item_text")
            vectors = vectors + self.text_proj(text)
        return vectors

    def embed_text(self, text: torch.Tensor) -> torch.Tensor:
        """(M, d) vectors for items known only by their text (no interactions yet)."""
        if self.text_proj is None:
            raise ValueError("this model was built without item_text, so it cannot embed text")
        out: torch.Tensor = self.text_proj(text)
        return out

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        """(B, T) item indices, left-padded with 0 -> (B, T, d) hidden states."""
        length = item_seq.shape[1]
        if length > self.config.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.config.max_len}")
        real = item_seq > 0  # (B, T)
        # Positions count from the first real item, so the amount of padding changes nothing.
        positions = (real.cumsum(dim=1) - 1).clamp(min=0)  # (B, T)
        scale = math.sqrt(self.config.d_model)  # SASRec scales item embeddings by sqrt(d)
        x = self.item_vectors()[item_seq] * scale + self.pos_emb(positions)  # (B, T, d)
        x = self.emb_drop(x)
        mask = None if bool(real.all()) else _attention_mask(real)
        for block in self.blocks:
            x = block(x, mask)
        hidden: torch.Tensor = self.norm(x)
        return hidden

    def encode_users(self, item_seq: torch.Tensor) -> torch.Tensor:
        """(B, T) left-padded histories -> (B, d) user states (the newest position)."""
        return self.forward(item_seq)[:, -1, :]

    def score(self, item_seq: torch.Tensor) -> torch.Tensor:
        """(B, T) histories -> (B, N+1) next-item scores (column 0 is padding)."""
        return self.encode_users(item_seq) @ self.item_vectors().T


def _attention_mask(real: torch.Tensor) -> torch.Tensor:
    """(B, T) real-item flags -> (B, 1, T, T): causal, padding keys hidden, diagonal always on.

    The diagonal keeps padded query rows from having no key at all (NaN in the softmax); their
    outputs are never read, and real rows never see a padded key.
    """
    length = real.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool, device=real.device).tril()  # (T, T)
    eye = torch.eye(length, dtype=torch.bool, device=real.device)  # (T, T)
    return (causal & real[:, None, None, :]) | eye  # (B, 1, T, T)
