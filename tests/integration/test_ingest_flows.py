"""Ingest flows and the CLI, run for real under a temporary Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from domain.settings import Settings
from flows.runtime import ready_engine
from storage.schema import Event, IngestBatch, Item, Reject

RETAIL = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    "536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.85,17850,United Kingdom\n"
    "536367,POST,POSTAGE,1,2010-12-01 08:34:00,18,13047,United Kingdom\n"
)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    return Settings()


def test_ingest_events_flow_loads_once(prefect_harness: None, settings: Settings,
                                       tmp_path: Path) -> None:
    from flows.ingest import ingest_events

    path = tmp_path / "retail.csv"
    path.write_text(RETAIL, encoding="utf-8")
    first = ingest_events(paths=[str(path)], settings=settings)
    again = ingest_events(paths=[str(path)], settings=settings)
    assert [(s.rows_read, s.loaded, s.rejected, s.skipped) for s in first] == [
        (3, 2, 1, False)]
    assert again[0].skipped and again[0].batch_id == first[0].batch_id
    engine = ready_engine(settings)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Event)).scalar_one() == 2
        assert connection.execute(select(func.count()).select_from(Item)).scalar_one() == 2
        assert connection.execute(select(Reject.line)).scalars().all() == [4]


def test_cli_ingest_prints_a_summary_and_rejects(prefect_harness: None, settings: Settings,
                                                 tmp_path: Path) -> None:
    from flows.cli import app

    path = tmp_path / "retail.csv"
    path.write_text(RETAIL, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "events", str(path)])
    assert result.exit_code == 0, result.output
    assert "retail.csv" in result.output and "online-retail" in result.output
    result = runner.invoke(app, ["rejects", "1"])
    assert result.exit_code == 0, result.output
    assert "StockCode is not a product" in result.output


def test_cli_reports_a_malformed_file_and_writes_nothing(prefect_harness: None,
                                                         settings: Settings,
                                                         tmp_path: Path) -> None:
    from flows.cli import app

    path = tmp_path / "events.csv"
    path.write_bytes(b"event_id,user_id,item_id,kind,occurred_at\n"
                     b"e1,u1,i1,view,2024-01-01\ne2,u\xe9,i1,view,2024-01-01\n")
    result = CliRunner().invoke(app, ["ingest", "events", str(path)])
    assert result.exit_code == 2
    assert "events.csv, line 3" in result.output
    assert "Nothing from this file was written" in result.output
    engine = ready_engine(settings)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(IngestBatch)).scalar_one() == 0


def test_the_sane_time_range_comes_from_the_settings(prefect_harness: None, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.cli import app

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    monkeypatch.setenv("SENTREC_EARLIEST_TIME", "2010-01-01")
    path = tmp_path / "m.csv"
    path.write_text("message_id,text,created_at\nm1,old,2001-01-01\nm2,new,2020-01-01\n",
                    encoding="utf-8")
    result = CliRunner().invoke(app, ["ingest", "messages", str(path)])
    assert result.exit_code == 0, result.output
    shown = CliRunner().invoke(app, ["rejects", "1"])
    assert "created_at 2001-01-01 00:00:00 is before 2010-01-01 00:00:00 UTC" in shown.output


def test_rejects_of_a_batch_that_does_not_exist_says_so(settings: Settings) -> None:
    from flows.cli import app

    result = CliRunner().invoke(app, ["rejects", "99"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: no batch 99; list the batches with `sentrec batches`"


def test_ingest_messages_flow_redacts_national_phones_of_the_configured_regions(
        prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.ingest import ingest_messages
    from storage.schema import Message

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    monkeypatch.setenv("SENTREC_PHONE_REGIONS", "US")
    path = tmp_path / "chats.csv"
    path.write_text("message_id,text,created_at\n"
                    "m1,Tel. 030 12345678 or +49 30 12345678,2024-05-01T10:00:00Z\n",
                    encoding="utf-8")
    settings = Settings()
    ingest_messages(paths=[str(path)], settings=settings)
    with ready_engine(settings).connect() as connection:
        assert connection.execute(select(Message.text)).scalar_one() == \
            "Tel. 030 12345678 or [PHONE]"


def test_cli_refuses_an_unknown_phone_region(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.cli import app

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SENTREC_PHONE_REGIONS", "US,UK")
    result = CliRunner().invoke(app, ["ingest", "messages", str(tmp_path / "none.csv")])
    assert result.exit_code == 2, result.output
    assert "setting SENTREC_PHONE_REGIONS: Value error, phone region 'UK': not an ISO 3166" \
        in " ".join(result.output.split())
