"""The fast sentiment encoder: a small pre-norm transformer read out by attention pooling.

Reading order: attention, feed-forward, block, the pooling that explains, the shared classifier
contract, config, model. Classes are ``domain.records.SENTIMENT_LABELS`` in that order
(negative, neutral, positive). Models take tensors and return tensors; tokenising, batching and
files live in ``models.sentiment.train`` and ``models.sentiment.predict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from domain.records import SENTIMENT_LABELS
from models.layers import init_weights
from models.sentiment.lexical import LexicalBag, mixed_logits


class SelfAttention(nn.Module):
    """Multi-head self-attention through ``scaled_dot_product_attention`` (fused on CPU too)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape  # (B, T, C)
        q, k, v = self.qkv(x).split(width, dim=2)  # 3 x (B, T, C)
        heads = (batch, length, self.n_heads, width // self.n_heads)
        q, k, v = (t.view(heads).transpose(1, 2) for t in (q, k, v))  # 3 x (B, H, T, C/H)
        keys = mask[:, None, None, :]  # (B, 1, 1, T): True where a key may be attended to
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keys,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(batch, length, width)  # (B, T, C)
        out: torch.Tensor = self.out(y)
        return out


class FeedForward(nn.Module):
    """Position-wise MLP; kept narrow because CPU time grows with its width (STACK.md)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.up = nn.Linear(d_model, d_ff)
        self.down = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.dropout(self.down(F.gelu(self.up(x))))
        return out


class Block(nn.Module):
    """Pre-norm residual block (Xiong et al. 2020): stable without learning-rate warm-up."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff = FeedForward(d_model, d_ff, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attn(self.norm1(x), mask))
        out: torch.Tensor = x + self.ff(self.norm2(x))
        return out


class AttentionPool(nn.Module):
    """A learned query scores every token; the softmax over real tokens is the explanation.

    The query starts at zero, so pooling starts as the mean over real tokens, which is how
    all-MiniLM-L6-v2 was trained to summarise a sentence (Reimers & Gurevych 2019).
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.key = nn.Linear(d_model, d_model)
        self.query = nn.Parameter(torch.zeros(d_model))
        self.scale = 1.0 / math.sqrt(d_model)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = torch.tanh(self.key(h)) @ self.query * self.scale  # (B, T)
        scores = scores.masked_fill(~mask, -math.inf)  # exp(-inf) = 0: padding gets no weight
        weights = torch.softmax(scores, dim=-1)  # (B, T), sums to 1 over real tokens
        pooled = torch.einsum("bt,btc->bc", weights, h)  # (B, C)
        return pooled, weights


class SentimentClassifier(nn.Module):
    """The contract both profiles share: ``forward`` gives logits, ``predict`` probabilities
    and token weights. Subclasses implement ``classify``."""

    def classify(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, 3) and pooling weights (B, T) for ids (B, T) and a real-token mask."""
        raise NotImplementedError

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.classify(ids, mask)[0]

    @torch.inference_mode()
    def predict(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class probabilities (B, 3) and token weights (B, T) (zero on padding)."""
        logits, weights = self.classify(ids, mask)
        return torch.softmax(logits.float(), dim=-1), weights.float()


@dataclass(frozen=True)
class SentimentConfig:
    """Shape of the fast model; the defaults are what the quality and speed benches ran."""

    vocab_size: int = 4000  # WordPiece ids; a small vocabulary fits 2-12k training texts
    # (8000 scored lower on PhraseBank 50Agree validation: rare words are memorised, not learnt)
    max_len: int = 128  # tokens per window; longer texts are split into sentences by the scorer
    d_model: int = 128  # width; 128 keeps CPU inference near 4k docs/s at 2 threads (STACK.md)
    n_heads: int = 4  # 32 dimensions per head
    n_layers: int = 2  # two blocks: enough for negation scope on short texts, and fast
    d_ff: int = 256  # 2x width; the usual 4x costs CPU time for little gain at this size
    dropout: float = 0.3  # on attention, residuals and the head; heavy because the labelled
    # sets are small (0.3 beat 0.1 and 0.2 on PhraseBank 50Agree validation macro-F1)
    n_classes: int = len(SENTIMENT_LABELS)  # negative, neutral, positive
    pad_id: int = 0  # [PAD] is id 0 in every sentrec tokenizer
    lexical_buckets: int = 0  # hashed word-piece pairs of the lexical member; 0: none
    # (``models.sentiment.lexical``; attached after the encoder is trained)
    lexical_chars: bool = False  # the member has a character n-gram block (``LexicalBag``)


class SentimentEncoder(SentimentClassifier):
    """Token + learned position embeddings -> pre-norm blocks -> attention pooling -> 3 classes,
    mixed with a lexical member's when the config has one (``attach_lexical``)."""

    mix: torch.Tensor  # encoder's share of the logits (buffer), with a lexical member only

    def __init__(self, config: SentimentConfig) -> None:
        super().__init__()
        self.config = config
        self.tokens = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_id)
        self.positions = nn.Embedding(config.max_len, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            Block(config.d_model, config.n_heads, config.d_ff, config.dropout)
            for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.pool = AttentionPool(config.d_model)
        self.head = nn.Linear(config.d_model, config.n_classes)
        self.apply(init_weights)
        self.lexical: LexicalBag | None = None
        if config.lexical_buckets:
            self.attach_lexical(LexicalBag(config.vocab_size, config.lexical_buckets,
                                           config.pad_id, chars=config.lexical_chars), mix=1.0)

    def attach_lexical(self, bag: LexicalBag, *, mix: float) -> None:
        """Mix ``bag``'s logits into the encoder's with weight ``1 - mix``."""
        self.lexical = bag
        self.register_buffer("mix", torch.tensor(float(mix)))
        self.config = SentimentConfig(**{**self.config.__dict__, "lexical_buckets": bag.buckets,
                                         "lexical_chars": bag.chars})

    def classify(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        length = ids.shape[1]  # ids (B, T)
        if length > self.config.max_len:
            raise ValueError(f"sequence of {length} tokens is longer than the model window "
                             f"({self.config.max_len}); split the text first")
        positions = torch.arange(length, device=ids.device)  # (T,)
        x = self.dropout(self.tokens(ids) + self.positions(positions))  # (B, T, C)
        for block in self.blocks:
            x = block(x, mask)
        pooled, weights = self.pool(self.norm(x), mask)  # (B, C), (B, T)
        logits = self.head(self.dropout(pooled))  # (B, 3)
        if self.lexical is not None:
            logits = mixed_logits(logits, self.lexical(ids, mask), self.mix)
        return logits, weights  # (B, 3), (B, T)
