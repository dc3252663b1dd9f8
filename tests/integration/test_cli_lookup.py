"""`sentrec recommend` prints a user's list from the active set, or says nothing is published."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from domain.redaction import pseudonym
from flows.cli import app
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.recsets import COLD_START_USER, activate_set, create_set, write_recommendations


def test_recommend_prints_the_active_list(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("SENTREC_HOME", str(tmp_path))
    monkeypatch.setenv("SENTREC_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    runner = CliRunner()
    empty = runner.invoke(app, ["recommend", "u1"])
    assert empty.exit_code == 2
    assert "no recommendation set is published yet" in empty.output

    rows = [("u1", 1, "i7", 0.9, None), ("u1", 2, "i3", 0.5, None),
            (pseudonym("jane.doe@example.com"), 1, "i9", 0.8, None),
            (COLD_START_USER, 1, "pop1", 40.0, "recent-popularity")]
    set_id = create_set(engine=engine, model_version_id=None, k=2)
    write_recommendations(engine=engine, set_id=set_id, frame=pl.DataFrame(
        rows, schema=["user_id", "rank", "item_id", "score", "reason"], orient="row"))
    activate_set(engine=engine, set_id=set_id)

    known = runner.invoke(app, ["recommend", "u1", "--k", "2"])
    assert known.exit_code == 0, known.output
    assert "top 2 for user u1" in known.output
    assert known.output.index("i7") < known.output.index("i3")
    # A user keyed by email at ingest is stored as its pseudonym, and found by the email.
    by_email = runner.invoke(app, ["recommend", "jane.doe@example.com", "--k", "1"])
    assert by_email.exit_code == 0, by_email.output
    assert "i9" in by_email.output and "jane.doe" not in by_email.output
    stranger = runner.invoke(app, ["recommend", "stranger", "--k", "1"])
    assert stranger.exit_code == 0
    assert "recent popularity" in stranger.output and "pop1" in stranger.output


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("SENTREC_TASK_RUNNER", "fibers", "setting SENTREC_TASK_RUNNER"),
    ("SENTREC_EVENT_WEIGHTS", '{"purchase": -1}', "setting SENTREC_EVENT_WEIGHTS"),
])
def test_a_bad_setting_is_a_short_error(variable: str, value: str, message: str,
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import run

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path))
    monkeypatch.setenv(variable, value)
    monkeypatch.setattr(sys, "argv", ["sentrec", "recommend", "u1"])
    with pytest.raises(SystemExit) as stopped:
        run()
    assert stopped.value.code == 2
    out = capsys.readouterr().out
    assert message in out and "Traceback" not in out
