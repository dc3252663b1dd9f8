"""The fast model's lexical member: a linear model over word pieces and adjacent pairs of them.

A small transformer trained within minutes and a bag-of-n-grams linear model err on different
texts, so the fast model's logits are a log-linear mix of the two (``SentimentEncoder``):
``mix * encoder logits + (1 - mix) * log_softmax(lexical logits)``. The lexical member is fitted
after the encoder, by scikit-learn's logistic regression on the encoder's own training rows,
and the mix weight and its regularisation are chosen on the encoder's validation carve; the
encoder is never trained through it (Cheng et al. 2016's wide & deep, but fitted apart: a
hashed n-gram path trained jointly with the student lowered held-out airline macro-F1 by 0.007
to 0.015). With each airline held out in turn (``bench.sentiment_transfer``, 6 minutes per
model) the distilled model with it scored +0.001 to +0.036 macro-F1 over TF-IDF + LR, where the
student alone had scored -0.015 to +0.033 (README, "Distilling the fast sentiment model").

Features are the text's content word pieces (the encoder's own ids, so nothing is tokenised
twice) and each adjacent pair of them hashed into ``buckets`` slots after the vocabulary; a
text's vector holds count x idf per feature, L2-normalised: TF-IDF with raw counts, over the
features at least ``MIN_DF`` training texts have (the others have idf 0, as words outside a
fitted vectorizer's vocabulary). Beside them, with ``chars``, a block of the character 2-5
grams of each piece (``CHAR_NGRAMS``; a word-initial piece with the leading space of
scikit-learn's ``char_wb``), TF-IDF weighted the same way and scaled by ``CHAR_WEIGHT``. It
lets a word the training texts lack count through the spelling it shares with words they have
("delays" with "delayed", "cancellation" with "cancelled"): out of domain that is what TF-IDF +
LR's character n-grams buy it. The block is normalised by ``sqrt(sum over the text's pieces of
|piece's weighted grams|^2)`` rather than by the norm of their sum, so its logits fold into one
row of three numbers per vocabulary id (``char_weight``, plus ``char_norm2`` for the norm):
scoring still costs a table lookup per token. Each occurrence's row passes through
``LexicalBag.terms``, an identity, so attributions can be taken on the rows
(``models.sentiment.explain``): the lexical logits are linear in them.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import sparse  # type: ignore[import-untyped]
from torch import nn

from domain.records import SENTIMENT_LABELS
from models.sentiment.data import pad_batch
from models.sentiment.tokenizer import SUBWORD_PREFIX

logger = logging.getLogger(__name__)

BUCKETS = 1 << 18  # pair slots: 262,144 x 3 weights, about 3 MB in the artifact
PAIR_PRIME = 1_000_003  # pair (a, b) -> (a * PAIR_PRIME + b) mod buckets
C_GRID = (10.0, 3.0)  # inverse L2 strength of the logistic regression, tried in this order while
# time is left and chosen on validation: 10 won on the three held-out airlines and PhraseBank
# tried with 1, 3 and 10 (and 30 overfitted where it won on validation: United held out)
SAGA_TOL, SAGA_EPOCHS = 1e-4, 300  # SAGA fits 12,000 tweets in about 3 s (62 epochs) where
# L-BFGS took 30 s, to the same test macro-F1 (0.7809 vs 0.7822 with Southwest held out); the
# epoch cap bounds a slow fit's time (an unconverged fit is early-stopped, still regularised)
MIN_DF = 2  # training texts a feature must be in to count, as for TF-IDF + LR (a feature of
# one text only memorises it): alone, the member trained on PhraseBank scored SEntFiN 0.416
# macro-F1 with it and 0.387 without, and JetBlue held out 0.737 and 0.742 (at C 10)
CHAR_NGRAMS = (2, 5)  # character n-gram lengths of the pieces, as TF-IDF + LR's char_wb
CHAR_WEIGHT = 0.5  # the character block's scale beside the piece block (each L2-normalised).
# Alone (no encoder; logistic regression at C 3 / 10), the member trained on PhraseBank scored
# SEntFiN 0.423 / 0.423 macro-F1 without the block, 0.470 / 0.480 with it at 0.5 and 0.514 /
# 0.529 at 1.0; with JetBlue held out 0.731 / 0.720 without, 0.735 / 0.721 at 0.5 and 0.718 /
# 0.699 at 1.0 (the tweets' own spellings overfit): 0.5 gains out of domain and costs nothing
# in the airline tweets
LEXICAL_SHARE = 0.1  # of a distillation's training budget left for fitting the lexical member
MIX_GRID = tuple(round(float(m), 2) for m in np.linspace(0.0, 1.0, 21))  # encoder share


class LexicalBag(nn.Module):
    """Word pieces and hashed adjacent pairs -> idf-weighted, L2-normalised bag -> 3 logits."""

    idf: torch.Tensor  # (vocab + buckets,) buffer, set by ``fit_lexical``
    char_norm2: torch.Tensor  # (vocab,) buffer with ``chars``: |piece's weighted grams|^2

    def __init__(self, vocab_size: int, buckets: int, pad_id: int, *,
                 chars: bool = False) -> None:
        super().__init__()
        self.vocab_size, self.buckets, self.pad_id = vocab_size, buckets, pad_id
        self.weight = nn.Embedding(vocab_size + buckets, len(SENTIMENT_LABELS))
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(len(SENTIMENT_LABELS)))
        self.register_buffer("idf", torch.ones(vocab_size + buckets))
        self.chars = chars
        if chars:  # each piece's character block folded into logits (``fit_lexical``)
            self.char_weight = nn.Embedding(vocab_size, len(SENTIMENT_LABELS))
            nn.init.zeros_(self.char_weight.weight)
            self.register_buffer("char_norm2", torch.zeros(vocab_size))
        self.terms = nn.Identity()  # per-occurrence rows (B, F, 3): what attributions read

    def features(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature ids (B, 2T - 1) of ids (B, T) -- the T pieces, then the T - 1 pairs -- and
        their occurrence weights (idf where the feature is present, else 0)."""
        real = mask & (ids != self.pad_id)  # (B, T)
        pairs = self.vocab_size + (ids[:, :-1] * PAIR_PRIME + ids[:, 1:]) % self.buckets
        found = torch.cat([ids, pairs], dim=1)  # (B, 2T - 1)
        present = torch.cat([real, real[:, :-1] & real[:, 1:]], dim=1)
        return found, self.idf[found] * present

    def normalised(self, ids: torch.Tensor, mask: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature ids and each occurrence's value: its idf over the L2 norm of the text's
        TF-IDF vector, so the occurrences of a feature add up to its normalised entry."""
        found, weights = self.features(ids, mask)  # (B, F) each
        rows = torch.arange(len(ids), device=ids.device)[:, None].expand_as(found)
        cells, where = torch.unique(rows * (self.vocab_size + self.buckets) + found,
                                    return_inverse=True)  # one cell per (text, feature)
        entry = torch.zeros(len(cells), dtype=weights.dtype, device=ids.device)
        entry.index_add_(0, where.flatten(), weights.flatten())  # count x idf
        squares = torch.zeros(len(ids), dtype=weights.dtype, device=ids.device)
        squares.index_add_(0, cells // (self.vocab_size + self.buckets), entry.pow(2))
        return found, weights / squares.sqrt().clamp_min(1e-12)[:, None]

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        found, values = self.normalised(ids, mask)
        rows = self.weight(found) * values[..., None]  # (B, 2T - 1, 3)
        if self.chars:  # then each piece's character block: (B, 3T - 1, 3)
            real = (mask & (ids != self.pad_id)).to(rows.dtype)  # (B, T)
            norm = (self.char_norm2[ids] * real).sum(dim=1, keepdim=True).sqrt()  # (B, 1)
            share = real / norm.clamp_min(1e-12)
            rows = torch.cat([rows, self.char_weight(ids) * share[..., None]], dim=1)
        out: torch.Tensor = self.terms(rows).sum(dim=1) + self.bias
        return out


def mixed_logits(encoder: torch.Tensor, lexical: torch.Tensor, mix: float | torch.Tensor
                 ) -> torch.Tensor:
    """The fast model's logits from its encoder's and its lexical member's."""
    return mix * encoder + (1 - mix) * F.log_softmax(lexical, dim=-1)


def design_matrix(bag: LexicalBag, seqs: Sequence[list[int]], *,
                  batch_size: int = 512) -> sparse.csr_matrix:
    """The (N, vocab + buckets) TF-IDF matrix ``bag`` computes for ``seqs``, for fitting."""
    blocks = []
    for start in range(0, len(seqs), batch_size):
        ids, mask = pad_batch(seqs[start:start + batch_size], bag.pad_id)
        found, values = bag.normalised(ids, mask)
        rows = torch.arange(len(ids))[:, None].expand_as(found)
        keep = values > 0
        blocks.append(sparse.csr_matrix(
            (values[keep].double().numpy(), (rows[keep].numpy(), found[keep].numpy())),
            shape=(len(ids), bag.vocab_size + bag.buckets)))  # duplicates are summed
    return sparse.vstack(blocks, format="csr") if blocks else \
        sparse.csr_matrix((0, bag.vocab_size + bag.buckets))


def piece_grams(pieces: Sequence[str]) -> sparse.csr_matrix:
    """(vocab, grams) counts of each piece's character n-grams (``CHAR_NGRAMS``): a piece
    that starts a word is read with a leading space, a continuation ("##") without its prefix;
    special tokens, all bracketed ("[PAD]", "[UNK]", "[URL]"), have none."""
    index: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    low, high = CHAR_NGRAMS
    for piece_id, piece in enumerate(pieces):
        if not piece or (piece.startswith("[") and piece.endswith("]")):
            continue
        word = piece[len(SUBWORD_PREFIX):] if piece.startswith(SUBWORD_PREFIX) else " " + piece
        for n in range(low, high + 1):
            for start in range(len(word) - n + 1):
                rows.append(piece_id)
                cols.append(index.setdefault(word[start:start + n], len(index)))
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                             shape=(len(pieces), len(index)))


def piece_counts(seqs: Sequence[list[int]], vocab_size: int) -> sparse.csr_matrix:
    """(N, vocab) occurrences of each piece in each sequence."""
    rows = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
    cols = np.fromiter((i for s in seqs for i in s), dtype=np.int64, count=len(rows))
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(seqs), vocab_size))


@dataclass(frozen=True)
class CharBlock:
    """The character block of a fit: each piece's idf-weighted grams (vocab, grams) and the
    squared norm of that row (vocab,)."""

    weighted: sparse.csr_matrix
    norm2: np.ndarray

    @classmethod
    def fit(cls, grams: sparse.csr_matrix, train: Sequence[list[int]]) -> CharBlock:
        """idf of each gram over the training sequences (0 below ``MIN_DF`` texts)."""
        counts = np.asarray(((piece_counts(train, grams.shape[0]) @ grams) > 0).sum(axis=0))
        idf = np.where(counts.ravel() >= MIN_DF,
                       np.log((1 + len(train)) / (1 + counts.ravel())) + 1, 0.0)
        weighted = (grams @ sparse.diags(idf)).tocsr()
        return cls(weighted, np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())

    def matrix(self, seqs: Sequence[list[int]]) -> sparse.csr_matrix:
        """(N, grams) block the bag computes for ``seqs``, ``CHAR_WEIGHT`` included."""
        counts = piece_counts(seqs, self.weighted.shape[0])
        norm = np.sqrt(counts @ self.norm2)
        scale = np.divide(CHAR_WEIGHT, norm, out=np.zeros_like(norm), where=norm > 0)
        return (sparse.diags(scale) @ (counts @ self.weighted)).tocsr()


@dataclass(frozen=True)
class LexicalFit:
    """A fitted lexical member and the mix chosen for it on validation."""

    bag: LexicalBag
    mix: float
    c: float
    val_nll: float  # of the mixed model on the validation carve, before temperature scaling


def fit_lexical(bag: LexicalBag, train: Sequence[list[int]], train_labels: Sequence[int],
                val: Sequence[list[int]], val_labels: Sequence[int],
                val_encoder_logits: torch.Tensor, *, seed: int,
                deadline: float | None = None,
                pieces: Sequence[str] | None = None) -> LexicalFit | None:
    """Fit ``bag`` (idf from ``train``, then a class-balanced logistic regression per C of
    ``C_GRID``, in its order) and keep the C and mix weight whose mixed logits have the lowest
    validation negative log-likelihood; the bag's weights are the winner's. A bag with
    ``chars`` needs ``pieces``, the surface string of every id. A C is fitted only while the
    last fit would still end before ``deadline`` (``time.perf_counter``); None when none
    was."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    if deadline is not None and time.perf_counter() >= deadline:
        return None
    if bag.chars and pieces is None:
        raise ValueError("a lexical member with character n-grams needs the pieces' strings")

    with torch.no_grad():
        bag.idf.fill_(1.0)  # every present feature a non-zero entry: the matrix gives its texts
    counts = np.bincount(design_matrix(bag, train).indices, minlength=len(bag.idf))
    # scikit-learn's smoothed idf; 0 for a feature fewer than MIN_DF training texts have, so it
    # is dropped as a fitted vectorizer drops a word outside its vocabulary. Weighted in, new
    # words (out of domain, most of them) shrank every known word's normalised entry: a
    # PhraseBank member then scored 94% of SEntFiN's headlines neutral (truth 36%), macro-F1
    # 0.27 where TF-IDF + LR reached 0.53.
    idf = np.where(counts >= MIN_DF, np.log((1 + len(train)) / (1 + counts)) + 1, 0.0)
    with torch.no_grad():
        bag.idf.copy_(torch.from_numpy(idf).float())
    x_train, x_val = design_matrix(bag, train), design_matrix(bag, val)
    block = None
    if bag.chars and pieces is not None:
        block = CharBlock.fit(piece_grams(pieces), train)
        x_train = sparse.hstack([x_train, block.matrix(train)], format="csr")
        x_val = sparse.hstack([x_val, block.matrix(val)], format="csr")
    truth = torch.tensor(list(val_labels))
    best: tuple[float, float, float, np.ndarray, np.ndarray] | None = None
    took = 0.0  # seconds of the last fit: the next one is not started without as many left
    for c in C_GRID:
        if deadline is not None and time.perf_counter() + took >= deadline:
            break
        started = time.perf_counter()
        model = LogisticRegression(C=c, solver="saga", tol=SAGA_TOL, max_iter=SAGA_EPOCHS,
                                   class_weight="balanced", random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # logged below instead
            model.fit(x_train, np.asarray(train_labels))
        if model.n_iter_.max() >= SAGA_EPOCHS:
            logger.info("lexical member, C %.0f: stopped at %d epochs", c, SAGA_EPOCHS)
        lexical = torch.from_numpy(model.decision_function(x_val)).float()
        for mix in MIX_GRID:
            nll = float(F.cross_entropy(mixed_logits(val_encoder_logits, lexical, mix), truth))
            if best is None or nll < best[0]:
                best = (nll, mix, c, model.coef_, model.intercept_)
        took = time.perf_counter() - started
    if best is None:
        logger.info("no lexical member: no time left to fit it")
        return None
    nll, mix, c, coef, intercept = best
    width = bag.vocab_size + bag.buckets
    with torch.no_grad():
        bag.weight.weight.copy_(torch.from_numpy(coef[:, :width].T).float())
        bag.bias.copy_(torch.from_numpy(intercept).float())
        if block is not None:  # fold the grams' weights into one row per piece
            folded = CHAR_WEIGHT * (block.weighted @ coef[:, width:].T)  # (vocab, 3)
            bag.char_weight.weight.copy_(torch.from_numpy(np.asarray(folded)).float())
            bag.char_norm2.copy_(torch.from_numpy(block.norm2).float())
    logger.info("lexical member: C %.0f, mix %.2f encoder / %.2f lexical, validation NLL %.4f",
                c, mix, 1 - mix, nll)
    return LexicalFit(bag, mix, c, nll)
