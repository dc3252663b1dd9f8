"""The model registry: versions, checksums and champion/challenger promotion."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from domain.bootstrap import MarginInterval
from domain.errors import ConflictError, NotFoundError, NotReadyError
from domain.records import as_utc
from storage.schema import ModelEvent, ModelVersion

log = logging.getLogger(__name__)

# The registered model families; each has at most one active version.
SENTIMENT = "sentiment"
RECOMMENDER = "recommender"
INTENT = "intent"
# The index of past support cases: the "model" is the turn encoder (``sha256`` its weights),
# the artifact its FAISS index (``index_sha256`` the index's checksum).
SUPPORT_INDEX = "support_index"
# The accurate sentiment profile's MiniLM encoder adapted to the store's text by masked-language
# modelling (``sentrec train adapt``); the accurate profile starts from the active one.
SENTIMENT_ENCODER = "sentiment-encoder"


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version as the rest of sentrec sees it."""

    id: int
    name: str
    version: int
    status: str
    eval_set: str
    primary_metric: str
    metrics: dict[str, Any]
    params: dict[str, Any]
    artifact_path: str
    sha256: str
    # The checksum of the item index built for this version (``models.index.save_index``), or
    # None before one was built; readers refuse an index without it.
    index_sha256: str | None
    created_at: datetime

    @property
    def score(self) -> float:
        return float(self.metrics[self.primary_metric])


@dataclass(frozen=True)
class Promotion:
    """What champion/challenger decided for a candidate; ``margin`` is the candidate's primary
    metric minus the champion's on the same data (None with no champion to compare with)."""

    candidate: VersionInfo
    champion: VersionInfo | None
    promoted: bool
    reason: str
    margin: float | None = None


@dataclass(frozen=True)
class ModelEventInfo:
    """One recorded decision about a version."""

    name: str
    version: int
    action: str
    reason: str
    margin: float | None
    at: datetime


def register_version(*, engine: Engine, name: str, eval_set: str, primary_metric: str,
                     metrics: dict[str, Any], params: dict[str, Any], artifact_path: str,
                     sha256: str) -> VersionInfo:
    """Record a trained model as a candidate with the next version number of ``name``."""
    if primary_metric not in metrics:
        raise ValueError(f"metrics lack the primary metric {primary_metric!r}: {sorted(metrics)}")
    with engine.begin() as connection:
        latest = connection.execute(
            select(func.max(ModelVersion.version)).where(ModelVersion.name == name)
        ).scalar_one()
        new_id = connection.execute(
            insert(ModelVersion).returning(ModelVersion.id),
            {"name": name, "version": (latest or 0) + 1, "status": "candidate",
             "eval_set": eval_set, "primary_metric": primary_metric,
             "metrics": json.dumps(metrics, sort_keys=True),
             "params": json.dumps(params, sort_keys=True), "artifact_path": artifact_path,
             "sha256": sha256, "created_at": datetime.now(UTC)},
        ).scalar_one()
    version = get_version(engine=engine, version_id=int(new_id))
    assert version is not None
    return version


def set_index_sha256(*, engine: Engine, version_id: int, sha256: str) -> None:
    """Record the checksum of the item index just built for a version.

    The database, not the file next to the index, is what readers compare the index with, so
    replacing the files is not enough to make them serve other vectors.
    """
    with engine.begin() as connection:
        updated = connection.execute(update(ModelVersion).where(ModelVersion.id == version_id)
                                     .values(index_sha256=sha256)).rowcount
    if updated != 1:
        raise LookupError(f"no model version with id {version_id}")


def get_version(*, engine: Engine, version_id: int) -> VersionInfo | None:
    with engine.connect() as connection:
        row = connection.execute(select(ModelVersion).where(ModelVersion.id == version_id)
                                 ).mappings().first()
    return None if row is None else _info(dict(row))


def active_version(*, engine: Engine, name: str) -> VersionInfo | None:
    """The active version of ``name``, or None before any was promoted."""
    with engine.connect() as connection:
        return _active(connection, name)


def list_versions(*, engine: Engine, name: str | None = None) -> list[VersionInfo]:
    query = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version)
    if name is not None:
        query = query.where(ModelVersion.name == name)
    with engine.connect() as connection:
        return [_info(dict(r)) for r in connection.execute(query).mappings()]


def promote_if_better(*, engine: Engine, version_id: int,
                      champion_rescored: float | None = None,
                      interval: MarginInterval | None = None) -> Promotion:
    """Activate a candidate if it beats the active version on the same evaluation set.

    With no active version the candidate wins. When the champion was measured on another
    evaluation set (the data grew), the caller re-scores it on the candidate's set and passes
    that figure as ``champion_rescored``; without it the two cannot be compared, the candidate
    stays a candidate and the reason says why. With ``interval`` (a paired bootstrap of the
    margin on the candidate's set, ``domain.bootstrap``) the candidate must win beyond noise:
    the whole interval above 0. The swap happens in one transaction: readers see the old
    champion or the new one.
    """
    with engine.begin() as connection:
        row = connection.execute(select(ModelVersion).where(ModelVersion.id == version_id)
                                 ).mappings().one()
        candidate = _info(dict(row))
        champion = _active(connection, candidate.name)
        champion_score = None if champion is None else champion.score
        if champion is not None and champion.eval_set != candidate.eval_set:
            champion_score = champion_rescored
        margin = None if champion_score is None else candidate.score - champion_score
        if champion is not None and interval is not None:
            margin = interval.margin
            decision = _judged(candidate, champion, interval)
            if decision.promoted:
                _activate(connection, candidate, champion)
        elif champion is not None and champion_score is None:
            decision = Promotion(candidate, champion, False,
                                 f"champion v{champion.version} was evaluated on "
                                 f"{champion.eval_set!r}, the candidate on "
                                 f"{candidate.eval_set!r}")
        elif champion is not None and margin is not None and margin <= 0:
            decision = Promotion(candidate, champion, False,
                                 f"{candidate.primary_metric} {candidate.score:.4f} does not "
                                 f"beat champion v{champion.version}'s {champion_score:.4f}",
                                 margin)
        else:
            reason = "no active version" if champion is None else (
                f"{candidate.primary_metric} {candidate.score:.4f} beats champion "
                f"v{champion.version}'s {champion_score:.4f}")
            _activate(connection, candidate, champion)
            decision = Promotion(candidate, champion, True, reason, margin)
            log.info("activated %s v%d: %s", candidate.name, candidate.version, reason)
        _record(connection, candidate, "promoted" if decision.promoted else "not promoted",
                decision.reason, margin)
    return decision


def _judged(candidate: VersionInfo, champion: VersionInfo,
            interval: MarginInterval) -> Promotion:
    """The decision when the margin's interval is known: only a win beyond noise promotes."""
    margin = (f"{candidate.primary_metric} {candidate.score:.4f} against champion "
              f"v{champion.version}'s {candidate.score - interval.margin:.4f}, margin "
              f"{interval.describe()}")
    if interval.beyond_noise:
        return Promotion(candidate, champion, True, f"{margin}: better beyond noise",
                         interval.margin)
    return Promotion(candidate, champion, False,
                     f"{margin}: not better beyond noise", interval.margin)


def activate_by_hand(*, engine: Engine, name: str, version: int, reason: str) -> VersionInfo:
    """Make ``version`` of ``name`` the live one whatever its metrics, for ``reason``."""
    with engine.begin() as connection:
        row = connection.execute(select(ModelVersion).where(
            ModelVersion.name == name, ModelVersion.version == version)).mappings().first()
        if row is None:
            raise NotFoundError(f"{name} has no version {version}; list them with "
                                "`sentrec models`")
        target = _info(dict(row))
        champion = _active(connection, name)
        if champion is not None and champion.id == target.id:
            raise ConflictError(f"{name} v{version} is already live")
        _activate(connection, target, champion)
        _record(connection, target, "promoted by hand", reason, None)
    return target


def decide_on_its_own(*, engine: Engine, version_id: int, better: bool,
                      reason: str) -> Promotion:
    """Activate a candidate judged against a fixed reference rather than a champion (an adapted
    encoder against the untouched MiniLM) when ``better``, and record the decision either way."""
    with engine.begin() as connection:
        row = connection.execute(select(ModelVersion).where(ModelVersion.id == version_id)
                                 ).mappings().one()
        candidate = _info(dict(row))
        champion = _active(connection, candidate.name)
        if better:
            _activate(connection, candidate, champion)
        _record(connection, candidate, "promoted" if better else "not promoted", reason, None)
    return Promotion(candidate, champion, better, reason)


def activate_rebuilt(*, engine: Engine, version_id: int, reason: str) -> VersionInfo:
    """Make a version live at once, for ``reason``: an artifact rebuilt from the data as it
    is now (the support index) replaces the older one, with nothing to compare them on."""
    with engine.begin() as connection:
        row = connection.execute(select(ModelVersion).where(ModelVersion.id == version_id)
                                 ).mappings().one()
        target = _info(dict(row))
        _activate(connection, target, _active(connection, target.name))
        _record(connection, target, "rebuilt", reason, None)
    return target


def roll_back(*, engine: Engine, name: str, reason: str) -> VersionInfo:
    """Make the version that was live before the current one live again, for ``reason``."""
    with engine.connect() as connection:
        champion = _active(connection, name)
        previous = connection.execute(
            select(ModelVersion.version).where(ModelVersion.name == name,
                                               ModelVersion.status == "retired",
                                               ModelVersion.activated_at.is_not(None))
            .order_by(ModelVersion.activated_at.desc()).limit(1)).scalar_one_or_none()
    if champion is None or previous is None:
        raise NotReadyError(f"{name} has no earlier live version to roll back to")
    with engine.begin() as connection:
        row = connection.execute(select(ModelVersion).where(
            ModelVersion.name == name, ModelVersion.version == previous)).mappings().one()
        target = _info(dict(row))
        _activate(connection, target, champion)
        _record(connection, target, "rolled back", f"from v{champion.version}: {reason}", None)
    return target


def list_events(*, engine: Engine, name: str | None = None,
                limit: int = 50) -> list[ModelEventInfo]:
    """Recorded decisions, newest first."""
    query = (select(ModelEvent.name, ModelVersion.version, ModelEvent.action, ModelEvent.reason,
                    ModelEvent.margin, ModelEvent.at)
             .join(ModelVersion, ModelVersion.id == ModelEvent.version_id)
             .order_by(ModelEvent.id.desc()).limit(limit))
    if name is not None:
        query = query.where(ModelEvent.name == name)
    with engine.connect() as connection:
        return [ModelEventInfo(n, int(v), a, r, m, as_utc(t))
                for n, v, a, r, m, t in connection.execute(query)]


def _activate(connection: Connection, target: VersionInfo,
              champion: VersionInfo | None) -> None:
    """Retire the champion and activate the target in the caller's transaction: readers see
    one or the other, never both or neither (the partial unique index enforces one)."""
    if champion is not None:
        connection.execute(update(ModelVersion).where(ModelVersion.id == champion.id)
                           .values(status="retired"))
    connection.execute(update(ModelVersion).where(ModelVersion.id == target.id)
                       .values(status="active", activated_at=datetime.now(UTC)))


def _record(connection: Connection, version: VersionInfo, action: str, reason: str,
            margin: float | None) -> None:
    connection.execute(insert(ModelEvent), {
        "name": version.name, "version_id": version.id, "action": action, "reason": reason,
        "margin": margin, "at": datetime.now(UTC)})


def _active(connection: Connection, name: str) -> VersionInfo | None:
    row = connection.execute(select(ModelVersion).where(ModelVersion.name == name,
                                                        ModelVersion.status == "active")
                             ).mappings().first()
    return None if row is None else _info(dict(row))


def _info(row: dict[str, Any]) -> VersionInfo:
    return VersionInfo(id=row["id"], name=row["name"], version=row["version"],
                       status=row["status"], eval_set=row["eval_set"],
                       primary_metric=row["primary_metric"], metrics=json.loads(row["metrics"]),
                       params=json.loads(row["params"]), artifact_path=row["artifact_path"],
                       sha256=row["sha256"], index_sha256=row["index_sha256"],
                       created_at=as_utc(row["created_at"]))
