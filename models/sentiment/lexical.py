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
fitted vectorizer's vocabulary). Scoring costs one table lookup per token. Each occurrence's
row passes through ``LexicalBag.terms``, an identity, so attributions can be taken on the rows
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
LEXICAL_SHARE = 0.1  # of a distillation's training budget left for fitting the lexical member
MIX_GRID = tuple(round(float(m), 2) for m in np.linspace(0.0, 1.0, 21))  # encoder share


class LexicalBag(nn.Module):
    """Word pieces and hashed adjacent pairs -> idf-weighted, L2-normalised bag -> 3 logits."""

    idf: torch.Tensor  # (vocab + buckets,) buffer, set by ``fit_lexical``

    def __init__(self, vocab_size: int, buckets: int, pad_id: int) -> None:
        super().__init__()
        self.vocab_size, self.buckets, self.pad_id = vocab_size, buckets, pad_id
        self.weight = nn.Embedding(vocab_size + buckets, len(SENTIMENT_LABELS))
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(len(SENTIMENT_LABELS)))
        self.register_buffer("idf", torch.ones(vocab_size + buckets))
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
        rows = self.terms(self.weight(found) * values[..., None])  # (B, F, 3)
        out: torch.Tensor = rows.sum(dim=1) + self.bias
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
                deadline: float | None = None) -> LexicalFit | None:
    """Fit ``bag`` (idf from ``train``, then a class-balanced logistic regression per C of
    ``C_GRID``, in its order) and keep the C and mix weight whose mixed logits have the lowest
    validation negative log-likelihood; the bag's weights are the winner's. A C is fitted only
    while the last fit would still end before ``deadline`` (``time.perf_counter``); None when
    none was."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    if deadline is not None and time.perf_counter() >= deadline:
        return None

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
    with torch.no_grad():
        bag.weight.weight.copy_(torch.from_numpy(coef.T).float())
        bag.bias.copy_(torch.from_numpy(intercept).float())
    logger.info("lexical member: C %.0f, mix %.2f encoder / %.2f lexical, validation NLL %.4f",
                c, mix, 1 - mix, nll)
    return LexicalFit(bag, mix, c, nll)
