"""``sentrec train adapt``: the accurate profile's encoder adapted to the store's text (masked
language modelling), registered with a checked artifact, and the start of accurate training."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from domain.readers import file_sha256
from domain.records import Stream
from flows.adapt_encoder import adapt_sentiment_encoder
from flows.ingest import ingest_file
from flows.train_sentiment import train_sentiment
from models.checkpoint import ChecksumMismatchError
from models.sentiment.adapt import AdaptConfig, load_adapted_weights
from models.sentiment.predict import load_sentiment, score_texts
from storage.registry import active_version
from tests.helpers import labelled_file

# Two head steps and two encoder steps on short batches: a run of fixed length, not of a budget.
TINY = AdaptConfig(max_len=32, batch_size=8, head_steps=2, max_epochs=1, evals_per_epoch=1)


def test_adapt_registers_a_checked_encoder_that_accurate_training_starts_from(
        engine: Engine, tmp_path: Path) -> None:
    ingest_file(engine=engine, stream=Stream.MESSAGES, path=labelled_file(tmp_path / "l.csv"))
    outcome = adapt_sentiment_encoder(engine=engine, models_dir=tmp_path / "models",
                                      max_steps=2, config=TINY)
    version = outcome.promotion.candidate
    m = outcome.metrics
    assert (version.name, version.version, outcome.stop_reason) == (
        "sentiment-encoder", 1, "max steps")
    assert (m["n_texts"], m["n_val"], m["head_steps"], m["steps"]) == (60, 3, 2, 2)
    assert m["mlm_loss_after"] < m["mlm_loss_before"] < m["mlm_loss_initial"]
    # the drop is judged text by text, its bootstrap interval stored with the version
    assert m["margin_low"] <= m["margin"] <= m["margin_high"] and m["margin_level"] == 0.95
    assert outcome.promotion.promoted == (m["margin_low"] > 0)
    assert "over 3 texts)" in outcome.promotion.reason
    live = active_version(engine=engine, name="sentiment-encoder")
    assert live is not None and live.id == version.id
    assert file_sha256(Path(live.artifact_path)) == live.sha256
    assert load_adapted_weights(live.artifact_path, sha256=live.sha256)
    with pytest.raises(ChecksumMismatchError):
        load_adapted_weights(live.artifact_path, sha256="0" * 64)

    trained = train_sentiment(engine=engine, models_dir=tmp_path / "models", profile="accurate")
    assert trained.version.params["encoder_version"] == 1
    # The sentiment checkpoint holds the whole model: scoring never reads the encoder's file.
    Path(live.artifact_path).unlink()
    model = load_sentiment(trained.version.artifact_path, sha256=trained.version.sha256)
    assert score_texts(model, ["profit rose sharply"]).probs.shape == (1, 3)


def test_adapting_an_almost_empty_store_is_one_line_and_exit_2(
        prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.cli import app

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["train", "adapt", "--max-steps", "1"])
    assert result.exit_code == 2, result.output
    assert ("only 0 distinct texts in the store; adapting the encoder needs at least 50"
            in " ".join(result.output.split()))
    assert "Traceback" not in result.output


def test_an_adapted_encoder_can_be_listed_and_rolled_back_by_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from domain.settings import Settings
    from flows.cli import app
    from flows.runtime import ready_engine
    from storage.registry import decide_on_its_own, register_version

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    engine = ready_engine(Settings())
    for drop in (0.2, 0.1):
        version = register_version(
            engine=engine, name="sentiment-encoder", eval_set="mlm-heldout-0.05:3",
            primary_metric="mlm_loss_drop", metrics={"mlm_loss_drop": drop}, params={},
            artifact_path=str(tmp_path / f"{drop}.pt"), sha256="0" * 64)
        decide_on_its_own(engine=engine, version_id=version.id, better=True, reason="lower")
    result = CliRunner().invoke(app, ["models", "--name", "sentiment-encoder", "--rollback",
                                      "--reason", "v2 reads tickers badly"])
    assert result.exit_code == 0, result.output
    assert "sentiment-encoder v1 is live" in result.output
    live = active_version(engine=engine, name="sentiment-encoder")
    assert live is not None and live.version == 1


def test_an_adapted_encoder_goes_live_only_when_its_loss_drop_is_beyond_noise() -> None:
    """Held-out texts whose MLM loss fell on average but rose on nearly as many as it fell
    on: the drop is within noise and the encoder stays off; a drop on every text goes live.
    Losses are per masked token, texts weighted by their masked tokens, as the table's."""
    import numpy as np

    from flows.adapt_encoder import adaptation_verdict
    from flows.promotion import DEFAULT_RULE

    tokens = np.array([1, 1, 1, 1, 1, 1, 1, 1, 8.0])  # the last text: 8 masked tokens
    before = 5.0 * tokens  # summed loss of each text's masked tokens
    mixed = np.array([4.0, 5.6, 4.4, 5.5, 4.6, 5.4, 4.5, 5.3, 40.0])
    live, reason, interval = adaptation_verdict(before, mixed, tokens, rule=DEFAULT_RULE)
    assert not live and interval.low < 0 < interval.margin
    assert interval.margin == pytest.approx(5.0 - 79.3 / 16)  # token-weighted, not per text
    assert reason.startswith("held-out MLM loss 4.9562 vs the untouched MiniLM's 5.0000: drop "
                             "+0.0438 (95% interval -")
    assert reason.endswith("over 9 texts), not beyond noise")
    live, reason, interval = adaptation_verdict(before, mixed - tokens, tokens,
                                                rule=DEFAULT_RULE)
    assert live and interval.low > 0 and reason.endswith("over 9 texts), beyond noise")
