"""The words of each evidence document that pushed the model toward "negative".

Scoring stores the pooling weights of every document as its highlights: cheap, but they say
where the model looked, not which way a word pushed, so they fall on function words and
placeholders as often as on what a reader would blame. An alert keeps a handful of evidence
documents, so those few are explained properly before the alert is stored: integrated
gradients toward the negative class (``models.sentiment.explain``) with the model version that
scored them. The report and the API then show those words. Without that model's file (removed,
or never written, as for series built elsewhere) the stored highlights stay, and the report
shades them by rule instead (``flows.report.evidence``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from domain.episodes import AlertRecord
from storage.registry import get_version

log = logging.getLogger(__name__)

HIGHLIGHTED_BY = "highlighted_by"  # evidence key: how its highlights were found
STEPS = 20  # integrated-gradients steps (Gauss-Legendre): the attributions of the test models
# add up to the change in log-odds within 2% from 16 steps on (tests/unit/models)


def explain_evidence(*, engine: Engine, alerts: Sequence[AlertRecord], top_k: int = 5) -> int:
    """Replace the evidence highlights of ``alerts`` with integrated-gradients words toward
    negative, per scoring model version; returns how many documents were explained."""
    from models.sentiment.explain import Attribution, explain_texts, top_words
    from models.sentiment.predict import load_sentiment

    explained = 0
    for version_id in sorted({a.model_version_id for a in alerts if a.model_version_id}):
        docs = [doc for a in alerts if a.model_version_id == version_id for doc in a.evidence
                if str(doc.get("text") or "").strip()]
        version = get_version(engine=engine, version_id=version_id)
        if not docs or version is None:
            continue
        if not Path(version.artifact_path).is_file():
            log.warning("evidence keeps its stored highlights: sentiment model version %d has "
                        "no file at %r", version.version, version.artifact_path)
            continue
        trained = load_sentiment(version.artifact_path, sha256=version.sha256)
        words = explain_texts(trained, [str(doc["text"]) for doc in docs],
                              method=Attribution.INTEGRATED_GRADIENTS, steps=STEPS)
        for doc, scores in zip(docs, words, strict=True):
            doc["highlights"] = [[w, s] for w, s in top_words(scores, top_k)]
            doc[HIGHLIGHTED_BY] = Attribution.INTEGRATED_GRADIENTS.value
        explained += len(docs)
    return explained
