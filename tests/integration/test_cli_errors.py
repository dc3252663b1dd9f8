"""Mistakes a user makes are one short message and exit code 2, caught before any work."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from storage.engine import make_engine
from storage.migrate import upgrade


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    return tmp_path / "home"


NEGATIVE_SEED = "Invalid value for '--seed': Input should be greater than or equal to 0"


@pytest.mark.parametrize("args, complaint", [
    (["ingest", "messages", "--format", "airline", "{file}"], "'airline' is not one of"),
    (["ingest", "events", "-f", "csv", "{file}"], "'csv' is not one of"),
    (["monitor", "--detector", "zscor"], "'zscor' is not one of"),
    (["monitor", "--window", "week"], "'week' is not one of"),
    (["report", "--window", "week"], "'week' is not one of"),
    (["train", "sentiment", "--profile", "huge"], "'huge' is not one of"),
    (["train", "intent", "--features", "bert"], "'bert' is not one of"),
    (["batches", "--stream", "tweets"], "'tweets' is not one of"),
    (["train", "intent", "--seed", "-5"], NEGATIVE_SEED),
    (["train", "sentiment", "--seed", "-1"], NEGATIVE_SEED),
    (["train", "adapt", "--seed", "-1"], NEGATIVE_SEED),
    (["train", "recommender", "--seed", "-1"], NEGATIVE_SEED),
])
def test_a_choice_is_checked_at_once(home: Path, tmp_path: Path, args: list[str],
                                     complaint: str) -> None:
    from flows.cli import app

    path = tmp_path / "file.csv"
    path.write_text("message_id,text,created_at\nm1,hi,2024-01-01\n", encoding="utf-8")
    result = CliRunner().invoke(app, [a.replace("{file}", str(path)) for a in args])
    assert result.exit_code == 2
    assert complaint in " ".join(result.output.replace("│", " ").split())
    assert "Traceback" not in result.output and len(result.output.splitlines()) <= 8
    assert not (home / "sentrec.db").exists()


def run_main(argv: list[str], monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> str:
    from flows.cli import run

    monkeypatch.setattr(sys, "argv", ["sentrec", *argv])
    with pytest.raises(SystemExit) as stopped:
        run()
    assert stopped.value.code == 2
    out = capsys.readouterr().out
    assert "Traceback" not in out
    return " ".join(out.split())


@pytest.mark.parametrize("alpha, alpha_shown", [("0", "0"), ("0.5", "0.5"), ("2", "2"),
                                                ("-1e-5", "-1e-05")])
def test_an_alert_alpha_out_of_range_is_refused_before_any_work(
        alpha: str, alpha_shown: str, home: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SENTREC_ALERT_ALPHA", alpha)
    out = run_main(["monitor"], monkeypatch, capsys)
    assert out == (f"error: setting SENTREC_ALERT_ALPHA: {alpha_shown} is not a tail probability "
                   "between 0 and 0.5 (exclusive); the default is 1e-05, a larger value pages "
                   "sooner and more often")
    assert not (home / "sentrec.db").exists()


@pytest.mark.parametrize("url, message", [
    ("nonsense", "error: SENTREC_DATABASE_URL 'nonsense' is not a database URL"),
    ("postgresql://sentrec:S3cretPw@127.0.0.1:1/nothing",
     "error: cannot reach the database postgresql+psycopg://sentrec:***@127.0.0.1:1/nothing"),
    ("mysql+nodriver://h/db", "error: SENTREC_DATABASE_URL names a database driver sentrec "
                              "does not have (mysql.nodriver)"),
])
def test_a_bad_database_url_is_one_line(url: str, message: str, home: Path,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SENTREC_DATABASE_URL", url)
    out = run_main(["batches"], monkeypatch, capsys)
    assert out.startswith(message) and "S3cretPw" not in out


def test_a_home_that_cannot_be_a_folder_is_one_line(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SENTREC_HOME", str(blocker / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    out = run_main(["batches"], monkeypatch, capsys)
    assert out.startswith(f"error: SENTREC_HOME {blocker / 'home'} cannot be used as a folder")


def test_a_store_newer_than_sentrec_says_so(home: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(f"sqlite:///{home / 'sentrec.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    out = run_main(["batches"], monkeypatch, capsys)
    assert out.startswith("error: sentrec is older than this store: its schema is at revision "
                          "0099, which this sentrec does not know")
