"""The one application settings class (environment prefix ``SENTREC_``).

Reading settings has no side effects: nothing is created on disk until a command asks for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where sentrec keeps its state and what it runs on."""

    model_config = SettingsConfigDict(env_prefix="SENTREC_", extra="ignore")

    home: Path = Field(default=Path(".sentrec"), description="Folder for the SQLite file, "
                       "models, indexes, reports and run artifacts.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default is a "
                                     "SQLite file under home.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    entity_aliases: Path | None = Field(default=None, description="CSV (alias,entity) of company "
                                        "names to tag news with; the built-in table otherwise.")
    ingest_chunk_rows: int = Field(default=200_000, ge=1_000, description="Rows written per "
                                   "insert statement during ingestion.")

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the default SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'sentrec.db').resolve()}"
