"""Event weights from the setting and the command line through training to the registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from typer.testing import CliRunner

from domain.records import Stream
from domain.sequences import DEFAULT_EVENT_WEIGHTS
from domain.settings import Settings
from flows.cli import app
from flows.ingest import ingest_file
from flows.train_recommender import train_recommender
from models.checkpoint import load_checkpoint
from storage.events import load_sequences, version_weights
from storage.registry import active_version


def events_file(path: Path) -> Path:
    """40 users walk items i0..i29 in runs; each 4th step is a purchase, each 7th a click on an
    item only clicks touch (c0..c9)."""
    rng = np.random.default_rng(0)
    lines = ["event_id,user_id,item_id,kind,occurred_at"]
    for user in range(40):
        start = int(rng.integers(0, 30))
        for step in range(10):
            if step % 7 == 6:
                item, kind = f"c{user % 10}", "click"
            else:
                item, kind = f"i{(start + step) % 30}", "purchase" if step % 4 == 3 else "view"
            lines.append(f"u{user}-{step},u{user},{item},{kind},2024-01-01T00:{step:02d}:00Z")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_recommender_trains_on_weighted_kinds_and_records_the_weights(
        engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine=engine, stream=Stream.EVENTS, path=events_file(tmp_path / "e.csv"))
    weights = {"view": 1.0, "purchase": 3.0, "click": 0.0}
    outcome = train_recommender(engine=engine, models_dir=tmp_path / "models",
                                weights=weights, max_minutes=0.05,
                                config={"d_model": 16, "d_ff": 32, "max_len": 10})
    version = active_version(engine=engine, name="recommender")
    assert version is not None and version.params["weights"] == weights
    extra = load_checkpoint(version.artifact_path, sha256=version.sha256).extra
    assert extra["weights"] == weights
    seqs = load_sequences(engine=engine, source="canonical",
                          weights=version_weights(version.params))
    assert not any(item.startswith("c") for item in seqs.item_ids)  # clicks are left out
    assert outcome.metrics["items"] == float(seqs.n_items) == 30.0
    assert seqs.weights is not None
    assert sorted({float(w) for row in seqs.weights for w in row}) == [1.0, 3.0]


def test_recommender_refuses_bad_weights_before_training(engine: Engine,
                                                        tmp_path: Path) -> None:
    ingest_file(engine=engine, stream=Stream.EVENTS, path=events_file(tmp_path / "e.csv"))
    with pytest.raises(ValueError, match=r"view=-1.0: weights must be finite and >= 0"):
        train_recommender(engine=engine, models_dir=tmp_path / "models",
                          weights={"view": -1.0})
    with pytest.raises(ValueError, match=r"no events of kinds \['cart'\]; weigh in the kinds"):
        train_recommender(engine=engine, models_dir=tmp_path / "models",
                          weights={"cart": 1.0})
    assert active_version(engine=engine, name="recommender") is None
    assert not (tmp_path / "models").exists()


def test_versions_from_before_weights_read_their_kinds_as_weight_one() -> None:
    assert version_weights({"source": "e", "kinds": ["view", "purchase"]}) == {
        "view": 1.0, "purchase": 1.0}
    assert version_weights({"source": "e", "weights": {"purchase": 3, "view": 0}}) == {
        "purchase": 3.0, "view": 0.0}


def test_setting_reads_json_weights_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().event_weights == DEFAULT_EVENT_WEIGHTS
    monkeypatch.setenv("SENTREC_EVENT_WEIGHTS", '{"purchase": 3, "view": 1}')
    assert Settings().event_weights == {"purchase": 3.0, "view": 1.0}
    monkeypatch.setenv("SENTREC_EVENT_WEIGHTS", '{"purchse": 3}')
    with pytest.raises(ValidationError, match=r"event_weights\n.*'purchse': unknown event kind"):
        Settings()


@pytest.mark.parametrize(("options", "message"), [
    (["--weight", "purchase"], "--weight 'purchase' is not KIND=W with W a number"),
    (["--weight", "purchase=lots"], "--weight 'purchase=lots' is not KIND=W"),
    (["--weight", "=2"], "--weight '=2' is not KIND=W"),
    (["--weight", "purchse=3"], "'purchse': unknown event kind; use one of view, click"),
    (["--weight", "view=1", "--weight", "cart=-2"], "cart=-2.0: weights must be finite"),
    (["--weight", "view=0", "--weight", "click=0", "--weight", "cart=0", "--weight",
      "purchase=0", "--weight", "rate=0", "--weight", "interact=0"], "keep no kind"),
])
def test_train_recommender_command_refuses_bad_weight_options(
        options: list[str], message: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTREC_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["train", "recommender", *options])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "sentrec.db").exists()  # refused before anything ran


def test_train_recommender_flow_uses_the_settings_weights_unless_given_its_own(
        prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.runtime import ready_engine
    from flows.train_recommender import train_recommender_flow

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    monkeypatch.setenv("SENTREC_EVENT_WEIGHTS", '{"view": 1, "purchase": 2}')
    settings = Settings()
    engine = ready_engine(settings)
    ingest_file(engine=engine, stream=Stream.EVENTS, path=events_file(tmp_path / "e.csv"))
    result = train_recommender_flow(settings=settings, max_minutes=0.05)
    version = active_version(engine=engine, name="recommender")
    assert version is not None and version.version == result.version.version
    assert version.params["weights"] == {"view": 1.0, "purchase": 2.0}
    with pytest.raises(ValueError, match=r"'buy': unknown event kind"):
        train_recommender_flow(settings=settings, max_minutes=0.05, weights={"buy": 1.0})
