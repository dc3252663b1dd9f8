"""The case index: past customer turns embedded in FAISS, with the replies that answered them.

One index holds every brand; a query names its brand and is searched among that brand's rows
only (a FAISS ID selector inside the search, so a small brand still gets its k nearest). The
cases (brand, customer turn, reply, reply template) are saved in the index's sidecar, so the
checksum recorded in the database covers them with the vectors (``models.index``). Neighbours
whose replies share a template are one suggestion: the reply of its closest case, the cases
behind it, and the best similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from domain.conversations import reply_template
from domain.errors import InvalidInputError
from models.index import ItemIndex, build_index, load_index
from models.support.encoder import ENCODER_NAME, TurnEncoder

NEIGHBOURS_PER_SUGGESTION = 5  # neighbours searched per suggestion wanted, for grouping


@dataclass(frozen=True)
class Case:
    """A past customer turn and the reply that answered it."""

    case_id: str
    entity: str
    customer: str
    reply: str
    similarity: float


@dataclass(frozen=True)
class Suggestion:
    """A reply to send, and the similar past cases answered with its template."""

    reply: str
    template: str
    similarity: float  # of the closest case behind it
    cases: list[Case]


def build_case_index(encoder: TurnEncoder, pairs: pl.DataFrame, *,
                     model_version_id: int) -> ItemIndex:
    """Embed every pair's customer turn (``domain.conversations.PAIR_SCHEMA`` rows)."""
    vectors = encoder.encode(pairs["customer_text"].to_list())  # (N, 384)
    ids = [f"{s}:{r}" for s, r in pairs.select("source", "reply_id").iter_rows()]
    cases = {"entity": pairs["entity"].fill_null("").to_list(),
             "customer": pairs["customer_text"].to_list(),
             "reply": pairs["reply_text"].to_list(),
             "template": [reply_template(t) for t in pairs["reply_text"]]}
    index = build_index(vectors, ids, model_version_id=model_version_id, kind="flat",
                        use_gpu=False)
    index.extra = {"encoder": ENCODER_NAME, "encoder_sha256": encoder.sha256, "cases": cases}
    return index


def load_case_index(path: Path | str, *, model_version_id: int, sha256: str | None,
                    encoder_sha256: str) -> ItemIndex:
    """The index whose recorded checksum is ``sha256``, built with the encoder weights of
    ``encoder_sha256`` (an index of other vectors would answer nonsense, silently)."""
    from models.index import IndexMismatchError

    index = load_index(Path(path), model_version_id=model_version_id, sha256=sha256,
                       use_gpu=False)
    if index.extra.get("encoder_sha256") != encoder_sha256:
        raise IndexMismatchError(Path(path), "it was built with other encoder weights; "
                                 "rebuild it with `sentrec index-conversations`")
    return index


def brands(index: ItemIndex) -> list[str]:
    """The brands with cases in the index, sorted."""
    return sorted({e for e in index.extra["cases"]["entity"] if e})


def match_brand(index: ItemIndex, name: str) -> str:
    """The index's spelling of ``name`` (any case), or an error naming the known brands."""
    known = {b.lower(): b for b in brands(index)}
    found = known.get(name.strip().lower())
    if found is None:
        raise InvalidInputError(f"no resolved cases for entity {name!r}; known entities: "
                                f"{', '.join(known.values()) or 'none'}")
    return found


def suggest(index: ItemIndex, vector: np.ndarray, *, k: int,
            entity: str | None = None) -> list[Suggestion]:
    """Up to ``k`` suggestions for one query vector (384,), among ``entity``'s cases when
    given (the index's spelling: see ``match_brand``), grouped by reply template."""
    cases = index.extra["cases"]
    among = None if entity is None else [
        row for row, e in enumerate(cases["entity"]) if e == entity]
    scores, rows = index.search_rows(vector.reshape(1, -1), k * NEIGHBOURS_PER_SUGGESTION,
                                     among=among)  # (1, n), (1, n)
    groups: dict[str, list[Case]] = {}
    for score, row in zip(scores[0], rows[0], strict=True):
        if row < 0:
            continue
        template = cases["template"][row]
        groups.setdefault(template, []).append(Case(
            index.item_ids[row], cases["entity"][row], cases["customer"][row],
            cases["reply"][row], round(float(score), 4)))
    return [Suggestion(reply=group[0].reply, template=template,
                       similarity=group[0].similarity, cases=group)
            for template, group in list(groups.items())[:k]]
