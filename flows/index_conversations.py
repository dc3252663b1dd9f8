"""Flow ``index-conversations``: past support cases into the FAISS case index, then live.

Answered threads are read from the store and paired (customer turn, agent reply); MiniLM
embeds the turns; the index, with the cases in its sidecar, is written under
``home/support/``; its checksum is recorded against a new ``support_index`` version, which
then replaces the live one. A run that fails leaves the previous index live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import Engine

from domain.conversations import pair_turns
from domain.errors import NotReadyError
from domain.settings import Settings
from flows.runtime import ready_engine, redacted_errors
from storage.conversations import answered_threads, latest_agent_message
from storage.registry import (
    SUPPORT_INDEX,
    activate_rebuilt,
    active_version,
    register_version,
    set_index_sha256,
)


@dataclass(frozen=True)
class ConversationIndex:
    """The index a run made live."""

    version: int
    pairs: int
    brands: int
    path: str


def index_due(engine: Engine) -> bool:
    """True when agent messages exist that the live index was not built from."""
    latest = latest_agent_message(engine=engine)
    if latest is None:
        return False
    live = active_version(engine=engine, name=SUPPORT_INDEX)
    return live is None or live.params.get("last_agent_message") != latest


def index_conversation_pairs(*, engine: Engine, index_dir: Path) -> ConversationIndex:
    """Pair, embed, save, record and activate (the flow without Prefect)."""
    from models.index import save_index
    from models.support.cases import build_case_index
    from models.support.encoder import ENCODER_NAME, load_turn_encoder

    latest = latest_agent_message(engine=engine)
    pairs = pair_turns(answered_threads(engine=engine))
    if latest is None or pairs.is_empty():
        raise NotReadyError("no answered support conversations in the store: ingest threads "
                            "with customer and agent messages (e.g. --format twcs) first")
    encoder = load_turn_encoder()
    path = index_dir.resolve() / f"cases-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.faiss"
    brands = pairs["entity"].drop_nulls().n_unique()
    version = register_version(
        engine=engine, name=SUPPORT_INDEX, eval_set=f"{pairs.height} pairs",
        primary_metric="pairs", metrics={"pairs": pairs.height, "brands": brands},
        params={"encoder": ENCODER_NAME, "last_agent_message": latest},
        artifact_path=str(path), sha256=encoder.sha256)
    checksum = save_index(build_case_index(encoder, pairs, model_version_id=version.id), path)
    set_index_sha256(engine=engine, version_id=version.id, sha256=checksum)
    activate_rebuilt(engine=engine, version_id=version.id,
                     reason=f"{pairs.height} cases of {brands} entities")
    return ConversationIndex(version.version, pairs.height, brands, str(path))


@flow(name="index-conversations", persist_result=False)
@redacted_errors
def index_conversations(settings: Settings | None = None) -> ConversationIndex:
    """Index every answered support conversation for ``sentrec suggest`` and the API."""
    settings = settings or Settings()
    built = index_conversation_pairs(engine=ready_engine(settings),
                                     index_dir=settings.home / "support")
    create_markdown_artifact(key="index-conversations", markdown=(
        f"# Support case index v{built.version}\n\n{built.pairs:,} (customer turn, agent "
        f"reply) pairs of {built.brands:,} entities, embedded with MiniLM."))
    return built
