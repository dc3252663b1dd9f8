"""What a customer wants, from what is live: the intent model, else the learned topics.

``live_intent_model`` loads the active ``intent`` version after checking its sha256 (the
registry holds the checksum; ``models.support.intent`` checks the file and the encoder).
Where no intent model is live (no intent labels were ever ingested), ``guess_intents``
answers with each text's NMF topic instead and says so: the guess's ``source`` is "topic".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from storage.registry import INTENT, active_version
from storage.topics import latest_topic_model

if TYPE_CHECKING:
    from models.support.intent import IntentModel


@dataclass(frozen=True)
class IntentAnswer:
    """An intent (or topic) for one text; ``label`` None is "unknown / out of scope"."""

    label: str | None
    confidence: float
    source: str  # "intent": the live intent model; "topic": a learned topic stands in


def live_intent_model(*, engine: Engine) -> IntentModel | None:
    """The active intent model, checked against its recorded sha256; None when none is live."""
    from models.support.intent import IntentModel

    version = active_version(engine=engine, name=INTENT)
    if version is None:
        return None
    return IntentModel.load(version.artifact_path, sha256=version.sha256)


def guess_intents(*, engine: Engine, models_dir: Path, texts: Sequence[str],
                  model: IntentModel | None = None) -> list[IntentAnswer]:
    """Each text's intent from ``model`` or the live one; where there is none, its topic."""
    model = model or live_intent_model(engine=engine)
    if model is not None:
        return [IntentAnswer(g.label, g.confidence, "intent") for g in model.predict(texts)]
    from models.topics import UNASSIGNED, TopicModel

    name = latest_topic_model(engine=engine)
    if name is None:
        return [IntentAnswer(None, 0.0, "topic") for _ in texts]
    topics = TopicModel.load(models_dir / f"{name}.json")
    indexes, shares = topics.assign(list(texts))
    return [IntentAnswer(topics.names[i] if i != UNASSIGNED else None, float(share), "topic")
            for i, share in zip(indexes.tolist(), shares.tolist(), strict=True)]
