"""Non-neural next-item baselines, scored with the same full-ranking evaluator as SASRec.

Each baseline is fitted on training prefixes and scores users' histories into a (B, N+1) float32
matrix (column 0 is padding). They ignore order within a history, which is exactly what makes
them the yardstick a sequential model has to beat (Ludewig & Jannach, "Evaluation of
session-based recommendation algorithms", 2018; Dacrema et al., "Are we really making much
progress?", RecSys 2019).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.linalg  # type: ignore[import-untyped]
import scipy.sparse as sp  # type: ignore[import-untyped]


def interaction_matrix(histories: Sequence[np.ndarray], n_items: int) -> sp.csr_matrix:
    """(U, N+1) binary user-item matrix; repeats of an item count once."""
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    rows = np.repeat(np.arange(len(histories)), lengths)
    columns = np.concatenate(histories) if len(histories) else np.zeros(0, dtype=np.int64)
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)),
                           shape=(len(histories), n_items + 1))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _broadcast(counts: np.ndarray, n_rows: int) -> np.ndarray:
    """The same score row for every user."""
    return np.broadcast_to(counts.astype(np.float32), (n_rows, len(counts))).copy()


class MostPop:
    """Score = number of training interactions of the item."""

    def __init__(self) -> None:
        self.counts = np.zeros(1, dtype=np.float64)

    def fit(self, train: Sequence[np.ndarray], n_items: int) -> MostPop:
        items = np.concatenate(train) if len(train) else np.zeros(0, dtype=np.int64)
        self.counts = np.bincount(items, minlength=n_items + 1).astype(np.float64)
        self.counts[0] = 0.0
        return self

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        return _broadcast(self.counts, len(histories))


class RecentPop(MostPop):
    """Popularity over the newest ``fraction`` of each user's training items.

    The sequence files carry order but no clock, so "recent" is by position: the last
    ceil(fraction x length) items of every user (at least one). What is in fashion now beats
    all-time popularity when tastes drift (Ji et al., "A Re-visit of the Popularity Baseline in
    Recommender Systems", SIGIR 2020).
    """

    def __init__(self, fraction: float = 0.2) -> None:
        super().__init__()
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.fraction = fraction

    def fit(self, train: Sequence[np.ndarray], n_items: int) -> RecentPop:
        recent = [seq[-max(1, math.ceil(self.fraction * len(seq))):] for seq in train if len(seq)]
        super().fit(recent, n_items)
        return self


class ItemKNN:
    """Item-based kNN: cosine similarity of item columns, each item keeping its k neighbours.

    score(u, j) = sum over history items i of sim(j, i), with sim(j, .) cut to j's top k
    (Sarwar et al., WWW 2001; Deshpande & Karypis, TOIS 2004).
    """

    def __init__(self, k: int = 100, shrink: float = 0.0) -> None:
        self.k = k
        self.shrink = shrink  # added to the cosine denominator: damps rare co-occurrences
        self.similarity = sp.csr_matrix((1, 1), dtype=np.float32)
        self.n_items = 0

    def fit(self, train: Sequence[np.ndarray], n_items: int) -> ItemKNN:
        matrix = interaction_matrix(train, n_items)
        co = (matrix.T @ matrix).tocsr()  # (N+1, N+1) co-occurrence counts
        norms = np.sqrt(np.asarray(co.diagonal(), dtype=np.float64))
        co.setdiag(0.0)
        co.eliminate_zeros()
        rows = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr))
        co.data = (co.data / (norms[rows] * norms[co.indices] + self.shrink + 1e-12)).astype(
            np.float32)
        self.similarity = self._keep_top_k(co)
        self.n_items = n_items
        return self

    def _keep_top_k(self, sim: sp.csr_matrix) -> sp.csr_matrix:
        """Keep the k largest entries of every row (ties: lower column first)."""
        data, indices, indptr = [], [], [0]
        for row in range(sim.shape[0]):
            start, stop = sim.indptr[row], sim.indptr[row + 1]
            values, columns = sim.data[start:stop], sim.indices[start:stop]
            if len(values) > self.k:
                keep = np.lexsort((columns, -values))[:self.k]
                values, columns = values[keep], columns[keep]
            data.append(values)
            indices.append(columns)
            indptr.append(indptr[-1] + len(values))
        return sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.array(indptr)),
                             shape=sim.shape)

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        users = interaction_matrix(histories, self.n_items)
        return np.asarray((users @ self.similarity.T).toarray(), dtype=np.float32)


class EASE:
    """EASE: closed-form item-item regression with a zero diagonal (Steck, WWW 2019).

    B = I - P diagMat(1 / diag(P)) with P = (X'X + lambda I)^-1. Dense in N, fine up to ~20k
    items (20k^2 float64 is 3.2 GB).
    """

    def __init__(self, l2: float = 500.0) -> None:
        self.l2 = l2  # Steck's lambda: the ridge penalty; larger favours popular items less
        self.weights = np.zeros((1, 1), dtype=np.float32)
        self.n_items = 0

    def fit(self, train: Sequence[np.ndarray], n_items: int) -> EASE:
        matrix = interaction_matrix(train, n_items)
        gram = np.asarray((matrix.T @ matrix).toarray(), dtype=np.float64)  # (N+1, N+1)
        gram[np.diag_indices_from(gram)] += self.l2
        # Cholesky inverse of the symmetric positive-definite Gram matrix: half the work of LU.
        factor, info = scipy.linalg.lapack.dpotrf(gram, lower=True, overwrite_a=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"EASE Gram matrix is not positive definite ({info})")
        inverse, info = scipy.linalg.lapack.dpotri(factor, lower=True, overwrite_c=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"EASE inverse failed ({info})")
        inverse = np.tril(inverse) + np.tril(inverse, -1).T  # dpotri fills one triangle
        weights = inverse / -np.diag(inverse)[None, :]
        weights[np.diag_indices_from(weights)] = 0.0
        self.weights = weights.astype(np.float32)
        self.n_items = n_items
        return self

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        users = interaction_matrix(histories, self.n_items)
        return np.asarray(users @ self.weights, dtype=np.float32)
