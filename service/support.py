"""The support assistant behind ``sentrec suggest`` and ``POST /v1/support/suggest``.

For one customer text it answers emotion (the live sentiment model's probabilities), intent
(``intent_line``) and suggested replies from the live case index. It reads the registry and
the files it names and writes nothing. The text is redacted before anything else touches it,
so neither a log line nor an error can carry what a caller typed.

What it loads is kept per process and checked when loaded: the case index against the
checksum the registry recorded for it, the encoder's weights against the version's sha256,
the sentiment checkpoint against its own.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from sqlalchemy import Engine

from domain.errors import NotReadyError
from domain.records import SENTIMENT_LABELS
from domain.redaction import redact
from storage.registry import INTENT, SENTIMENT, SUPPORT_INDEX, VersionInfo, active_version
from storage.topics import latest_topic_model

log = logging.getLogger(__name__)

MAX_TEXT = 2_000  # characters of one customer text: a long e-mail, not a transcript


@dataclass(frozen=True)
class SupportAnswer:
    """What the assistant says about one text. ``intent`` comes from ``intent_line``."""

    text: str  # the redacted text that was judged
    entity: str | None  # the index's spelling of the entity asked for
    index_version: int
    intent: str | None
    emotion: dict[str, float] | None  # None before a sentiment model is live
    suggestions: list[Any]  # models.support.cases.Suggestion


class SupportAssistant:
    """Loads lazily, once per process and live version, what answering needs."""

    def __init__(self, engine: Engine, models_dir: Path) -> None:
        self._engine = engine
        self._models_dir = models_dir
        self._lock = Lock()
        self._loaded: dict[str, tuple[Any, Any]] = {}  # what -> (key, object)

    def answer(self, text: str, *, entity: str | None = None, k: int = 5) -> SupportAnswer:
        """Emotion, intent and up to ``k`` suggested replies (``entity``'s cases only when
        named: any case; an unknown one is an ``InvalidInputError`` naming the known ones)."""
        from models.support.cases import match_brand, suggest

        text = redact(text)
        version, index = self._case_index()
        brand = None if entity is None else match_brand(index, entity)
        encoder = self._cached("encoder", None, self._load_encoder)
        if encoder.sha256 != version.sha256:
            raise NotReadyError(f"the support case index v{version.version} was built with "
                                "other MiniLM weights than the installed ones; rebuild it with "
                                "`sentrec index-conversations`")
        vector = encoder.encode([text])[0]
        return SupportAnswer(text=text, entity=brand, index_version=version.version,
                             intent=self.intent_line(text), emotion=self._emotion(text),
                             suggestions=suggest(index, vector, k=k, entity=brand))

    def intent_line(self, text: str) -> str | None:
        """The customer's intent from the live intent model ("unknown" under its confidence
        threshold); without one, the learned topic the text falls in (its three heaviest terms),
        None before topics were learned or when no word is known."""
        from models.support.intent import IntentModel
        from models.topics import UNASSIGNED, TopicModel

        live = active_version(engine=self._engine, name=INTENT)
        if live is not None:
            intents = self._cached("intent", live.sha256, lambda: IntentModel.load(
                live.artifact_path, sha256=live.sha256))
            guess = intents.predict([text])[0]
            return (f"intent: {guess.label} ({guess.confidence:.0%})" if guess.label is not None
                    else f"intent: unknown / out of scope ({guess.confidence:.0%})")
        name = latest_topic_model(engine=self._engine)
        path = self._models_dir / f"{name}.json"
        if name is None or not path.exists():
            return None
        model = self._cached("topics", name, lambda: TopicModel.load(path))
        topic = int(model.assign([text])[0][0])
        return None if topic == UNASSIGNED else f"topic: {model.names[topic]}"

    def _emotion(self, text: str) -> dict[str, float] | None:
        from models.sentiment.predict import load_sentiment, score_texts

        live = active_version(engine=self._engine, name=SENTIMENT)
        if live is None or not text.strip():
            return None
        model = self._cached("sentiment", live.sha256, lambda: load_sentiment(
            live.artifact_path, sha256=live.sha256))
        probs = score_texts(model, [text]).probs[0]
        return {label: round(float(p), 4) for label, p in zip(SENTIMENT_LABELS, probs,
                                                              strict=True)}

    def _case_index(self) -> tuple[VersionInfo, Any]:
        from models.index import IndexMismatchError
        from models.support.cases import load_case_index

        live = active_version(engine=self._engine, name=SUPPORT_INDEX)
        if live is None:
            raise NotReadyError("no support case index yet: run `sentrec index-conversations` "
                                "after ingesting answered threads (`sentrec demo` does both)")
        path = Path(live.artifact_path)
        key = (live.id, live.index_sha256, file_stamp(path), file_stamp(path.with_name(
            path.name + ".json")))
        try:
            return live, self._cached("cases", key, lambda: load_case_index(
                path, model_version_id=live.id, sha256=live.index_sha256,
                encoder_sha256=live.sha256))
        except IndexMismatchError as exc:
            log.warning("support case index refused: %s", exc)
            raise NotReadyError(f"the support case index v{live.version} is refused: "
                                f"{exc.problem}") from exc

    def _load_encoder(self) -> Any:
        from models.support.encoder import load_turn_encoder

        return load_turn_encoder()

    def _cached(self, what: str, key: Any, load: Any) -> Any:
        """The object loaded for ``key``, loading it when the key changed."""
        with self._lock:
            held = self._loaded.get(what)
            if held is None or held[0] != key:
                held = (key, load())
                self._loaded[what] = held
            return held[1]


def file_stamp(path: Path) -> tuple[int, int] | None:
    """What changes when a file is rewritten: modification time and size (None: missing)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
