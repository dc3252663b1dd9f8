"""The one application settings class (environment prefix ``SENTREC_``).

Reading settings has no side effects: nothing is created on disk until a command asks for it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.phones import DEFAULT_PHONE_REGIONS, check_phone_regions
from domain.sequences import DEFAULT_EVENT_WEIGHTS, check_event_weights

# The count model's default tail probability (domain.counts.CountConfig.alpha has the same).
DEFAULT_ALERT_ALPHA = 1e-5


class Settings(BaseSettings):
    """Where sentrec keeps its state and what it runs on."""

    model_config = SettingsConfigDict(env_prefix="SENTREC_", extra="ignore")

    home: Path = Field(default=Path(".sentrec"), description="Folder for the SQLite file, "
                       "models, indexes, reports and run artifacts.")
    # A secret: it may hold a password, so dumps, reprs and Prefect's records show stars.
    database_url: SecretStr | None = Field(default=None, description="SQLAlchemy URL; default "
                                           "is a SQLite file under home.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    entity_aliases: Path | None = Field(default=None, description="CSV (alias,entity) of company "
                                        "names to tag news with; the built-in table otherwise.")
    ingest_chunk_rows: int = Field(default=200_000, ge=1_000, description="Rows written per "
                                   "insert statement during ingestion.")
    earliest_time: datetime = Field(default=datetime(1970, 1, 1, tzinfo=UTC), description="A "
                                    "record dated before this (ISO 8601, UTC when no offset) is "
                                    "rejected at ingestion.")
    future_days: float = Field(default=1.0, ge=0, description="A record dated more than this "
                               "many days after its ingestion is rejected.")
    alert_horizon_days: float = Field(default=2.0, gt=0, description="An alert episode whose "
                                      "windows all ended more than this many days before "
                                      "monitoring ran is backfill: kept, never paged.")
    alert_alpha: float = Field(default=DEFAULT_ALERT_ALPHA, description="Upper-tail "
                               "probability under the count model at which a window's "
                               "(negative) volume fires, 0 < alpha < 0.5: larger pages "
                               "sooner and more often. Every detection path reads it "
                               "(`monitor`, the daily flow, `report`, `detect`).")
    task_runner: Literal["threads", "processes", "dask"] = Field(
        default="threads", description="Where mapped tasks (scoring chunks, monitoring, "
        "publishing batches) run: threads of this process, local processes, or a Dask "
        "cluster.")
    dask_address: str | None = Field(default=None, description="Scheduler address of an "
                                     "existing Dask cluster (tcp://host:8786); a temporary "
                                     "local cluster when unset.")
    landing: Path | None = Field(default=None, description="Folder the daily flow ingests "
                                 "from: its subfolders messages/, news/, events/ and items/ "
                                 "hold the files (each file is ingested once).")
    retrain_days: int = Field(default=7, ge=1, description="Days between retraining runs of "
                              "the daily flow.")
    daily_cron: str = Field(default="0 5 * * *", description="When `sentrec deploy` runs the "
                            "daily flow (cron, UTC).")
    monitor_cron: str | None = Field(default="15 * * * *", description="When `sentrec deploy` "
                                     "runs monitoring between daily runs; unset for never.")
    max_workers: int | None = Field(default=None, ge=1, description="Threads or processes "
                                    "for mapped tasks; Prefect's default when unset.")
    torch_threads: int = Field(default_factory=lambda: available_cores(), ge=1, description=(
        "Threads torch uses for training and scoring; default: the cores this process may "
        "use."))
    sentiment_train_minutes: float = Field(default=8.0, gt=0, description="Default time "
                                           "budget of `sentrec train sentiment` and of the "
                                           "daily retrain, from loading the labels to the "
                                           "promotion decision.")
    adapt_train_minutes: float = Field(default=6.0, gt=0, description="Default time budget "
                                       "of `sentrec train adapt` (masked-language-model "
                                       "adaptation of the accurate profile's encoder), "
                                       "MiniLM's loading and the held-out evaluation included.")
    intent_train_minutes: float = Field(default=5.0, gt=0, description="Default time budget "
                                        "of `sentrec train intent`: training messages are "
                                        "embedded for 30% of it, the model fitted on those.")
    recommender_train_minutes: float = Field(default=10.0, gt=0, description="Default time "
                                             "budget of `sentrec train recommender` and of "
                                             "the daily retrain.")
    promotion_resamples: int = Field(default=1000, ge=100, description="Bootstrap resamples "
                                     "of the held-out items when a challenger meets the "
                                     "champion.")
    promotion_level: float = Field(default=0.95, gt=0.5, lt=1.0, description="Confidence "
                                   "the bootstrap interval of the margin is taken at; the "
                                   "challenger goes live only when all of it is above 0.")
    event_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS), description="Event kind -> "
        "weight of the recommender's training loss, as JSON in the environment "
        "(SENTREC_EVENT_WEIGHTS='{\"purchase\": 3, \"view\": 1}'). A kind weighted 0 or "
        "left out is not in the sequences; by default every kind but return counts 1.")

    @field_validator("home")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """A relative home is taken from where the command runs, once: every path made from it
        (models, indexes, reports, Prefect's state) then means the same file from anywhere."""
        return value.expanduser().resolve()

    @field_validator("alert_alpha")
    @classmethod
    def _tail_probability(cls, value: float) -> float:
        """A tail probability of 0.5 or more would page on a count at or below the usual."""
        if not 0 < value < 0.5:
            raise PydanticCustomError(
                "alert_alpha", "{value} is not a tail probability between 0 and 0.5 "
                "(exclusive); the default is {default}, a larger value pages sooner and more "
                "often", {"value": _plain(value), "default": DEFAULT_ALERT_ALPHA})
        return value

    @field_validator("earliest_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    # NoDecode: the environment's text reaches the validator as is, so a comma list works too.
    phone_regions: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_PHONE_REGIONS, description="ISO country codes whose national phone "
        "formats redaction recognises, as a comma list (US,GB,DE) or a JSON list; numbers in "
        "international form (+44 ...) are recognised whatever the list.")

    @field_validator("phone_regions", mode="before")
    @classmethod
    def _known_regions(cls, value: Any) -> tuple[str, ...]:
        """Read a comma list or a JSON list; refuse a code libphonenumber does not know."""
        wanted = "give ISO country codes as a comma list (US,GB) or a JSON list ([\"US\"])"
        if isinstance(value, str):
            text = value.strip()
            try:
                value = json.loads(text) if text.startswith("[") else text.split(",")
            except json.JSONDecodeError as exc:
                raise ValueError(f"{text!r} is not a JSON list; {wanted}") from exc
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(wanted)
        return check_phone_regions(code for code in value if code.strip())

    @field_validator("event_weights")
    @classmethod
    def _known_kinds_and_non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        """Refuse an unknown kind or a negative weight when settings are read, not mid-run."""
        return check_event_weights(value)

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the default SQLite file under ``home``."""
        if self.database_url is not None and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.home / 'sentrec.db').resolve()}"


def _plain(value: float) -> str:
    """A number as short as Python writes it: 2 rather than 2.0, 1e-05."""
    return str(int(value)) if value == int(value) else repr(value)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
