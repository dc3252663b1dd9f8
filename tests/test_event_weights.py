"""Event weights from the setting and the command line to weighted batches and training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from sqlalchemy import Engine
from typer.testing import CliRunner

from domain.records import Stream
from domain.sequences import DEFAULT_EVENT_WEIGHTS, LeaveOneOutSplit
from domain.settings import Settings
from flows.cli import app
from flows.ingest import ingest_file
from flows.train_recommender import train_recommender
from models.checkpoint import load_checkpoint
from models.recommender.data import training_batches
from models.recommender.sasrec import SASRecConfig
from models.recommender.train import LossKind, train_sasrec
from models.training import TrainConfig
from storage.events import load_sequences, version_weights
from storage.registry import active_version

N_ITEMS = 12
MODEL = SASRecConfig(n_items=N_ITEMS, max_len=8, d_model=16, d_ff=32, dropout=0.1)


def test_weighted_batches_are_the_unweighted_ones_plus_each_targets_weight() -> None:
    seqs = [np.array([1, 2, 3]), np.array([4, 5, 6, 7, 8, 9])]
    weights = [np.array([0.5, 2.0, 3.0], dtype=np.float32),
               np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=np.float32)]
    plain = training_batches(seqs, max_len=4, batch_size=8, rng=np.random.default_rng(0))
    weighted = training_batches(seqs, max_len=4, batch_size=8, rng=np.random.default_rng(0),
                                weights=weights)
    inputs, targets, target_weights = weighted[0]
    assert inputs.tolist() == plain[0][0].tolist() and targets.tolist() == plain[0][1].tolist()
    rows = {tuple(t): tuple(w) for t, w in zip(targets.tolist(), target_weights.tolist(),
                                                strict=True)}
    # Item 1 has no history, so nothing predicts it and its weight 0.5 is never used.
    assert rows == {(0, 0, 2, 3): (0.0, 0.0, 2.0, 3.0), (6, 7, 8, 9): (3.0, 4.0, 5.0, 6.0)}
    assert target_weights.dtype == torch.float32


def _split(weights: str) -> LeaveOneOutSplit:
    """Users walk the catalogue in steps of 1; every third event weighted 3 (or all 1)."""
    rng = np.random.default_rng(0)
    seqs = [(np.arange(s, s + 9) % N_ITEMS) + 1 for s in rng.integers(0, N_ITEMS, size=48)]
    train = [s[:-2] for s in seqs]
    if weights == "none":
        train_weights = None
    elif weights == "ones":
        train_weights = [np.ones(len(t), dtype=np.float32) for t in train]
    else:
        train_weights = [np.where(np.arange(len(t)) % 3 == 0, 3.0, 1.0).astype(np.float32)
                         for t in train]
    return LeaveOneOutSplit(
        n_items=N_ITEMS, train=train, users=np.arange(48),
        valid_target=np.array([s[-2] for s in seqs]), test_target=np.array([s[-1] for s in seqs]),
        train_weights=train_weights)


def _losses(weights: str, loss: LossKind = "full", epochs: int = 2) -> list[float]:
    config = TrainConfig(max_epochs=epochs, lr=1e-2, seed=0, device="cpu", patience=10)
    _, result = train_sasrec(_split(weights), MODEL, config, batch_size=16, loss=loss,
                             n_negatives=8)
    return [log.loss for log in result.history]


def test_weights_of_one_train_exactly_as_no_weights() -> None:
    assert _losses("ones") == _losses("none")


@pytest.mark.parametrize("loss", ["full", "sampled"])
def test_weighted_training_runs_and_differs_from_unweighted(loss: LossKind) -> None:
    weighted = _losses("thirds", loss, epochs=1)
    assert len(weighted) == 1 and np.isfinite(weighted[0])
    assert weighted != _losses("none", loss, epochs=1)


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
    seqs = load_sequences(engine=engine, source="e", weights=version_weights(version.params))
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
