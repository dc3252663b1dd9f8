"""Monitoring end to end on a real store: alerts from scores, incremental re-runs, report."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import torch
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from domain.settings import Settings
from flows.explain_evidence import STEPS
from flows.monitor_sentiment import run_monitoring, write_report
from flows.runtime import ready_engine
from models.sentiment.encoder import SentimentConfig, SentimentEncoder
from models.sentiment.explain import explain_texts, top_words
from models.sentiment.predict import TrainedSentiment, save_sentiment
from models.sentiment.tokenizer import train_tokenizer
from storage.registry import register_version
from storage.schema import Alert, IngestBatch, Message, SentimentScore
from storage.scores import scored_documents

START = datetime(2024, 3, 1, tzinfo=UTC)
SUBJECTS = ["refund payment card charge", "flight delay gate crew",
            "app login password crash", "bag lost luggage claim"]
# Words that give a store of many messages a vocabulary the 20 topics of `monitor` can learn.
PLACES = ["boston", "denver", "austin", "chicago", "dallas", "miami", "seattle", "phoenix",
          "atlanta", "houston", "portland", "orlando", "detroit", "memphis", "raleigh",
          "tampa", "omaha", "tucson", "fresno", "newark", "reno", "boise", "salem", "dover"]


def add_hours(engine: Engine, hours: range, negative_share: dict[int, float],
              per_hour: int = 20, version: int | None = None,
              volumes: dict[int, int] | None = None, places: bool = False) -> None:
    """Messages to 'Acme' each hour (``per_hour``, or ``volumes[hour]``); a share of them
    scored negative; with ``places``, each also names two places."""
    with engine.begin() as connection:
        batch = connection.execute(insert(IngestBatch).returning(IngestBatch.id), {
            "stream": "messages", "source": "t", "format": "canonical", "path": "x",
            "file_sha256": f"{hours.start}", "started_at": START, "rows_read": 0,
            "loaded": 0, "rejected": 0, "duplicate": 0, "labels_loaded": 0,
            "items_loaded": 0}).scalar_one()
        version = version or connection.execute(
            select(func.max(SentimentScore.model_version_id))).scalar_one()
    if version is None:
        version = register_version(engine=engine, name="sentiment-fast", eval_set="e",
                                   primary_metric="f1", metrics={"f1": 0.8}, params={},
                                   artifact_path="", sha256="").id
    with engine.begin() as connection:
        for hour in hours:
            share = negative_share.get(hour, 0.2)
            count = (volumes or {}).get(hour, per_hour)
            for n in range(count):
                negative = n < round(share * count)
                doc = connection.execute(insert(Message).returning(Message.id), {
                    "source": "t", "message_id": f"{hour}-{n}", "conversation_id": None,
                    "author_role": "customer", "entity": "Acme", "channel": "chat",
                    "created_at": START + timedelta(hours=hour, minutes=n),
                    "text": f"{SUBJECTS[n % 4]} ticket number {hour * 100 + n} today" + (
                        f" {PLACES[(hour + n) % 24]} {PLACES[(hour * 5 + n) % 23]}"
                        if places else ""),
                    "batch_id": batch}).scalar_one()
                p_neg = 0.9 if negative else 0.05
                connection.execute(insert(SentimentScore), {
                    "doc_kind": "message", "doc_id": doc, "model_version_id": version,
                    "p_negative": p_neg, "p_neutral": 0.05, "p_positive": 0.95 - p_neg,
                    "score": 0.95 - 2 * p_neg, "highlights": json.dumps([["account", 0.5]]),
                    "sentences": 1, "scored_at": datetime.now(UTC)})


def alert_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Alert)).scalar_one())


def test_a_surge_becomes_one_alert_and_reruns_add_nothing(engine: Engine,
                                                          tmp_path: Path) -> None:
    add_hours(engine, range(0, 40), {38: 0.9})
    summary, _ = run_monitoring(engine=engine)
    assert summary.alerts_inserted == 1
    with engine.connect() as connection:
        alert = connection.execute(select(Alert)).mappings().one()
    assert alert["entity"] == "Acme" and alert["status"] == "open"
    assert alert["window_start"].replace(tzinfo=UTC) == START + timedelta(hours=38)
    assert json.loads(alert["evidence"])[0]["highlights"] == [["account", 0.5]]
    again, _ = run_monitoring(engine=engine)
    assert (again.new_scores, again.alerts_inserted, alert_count(engine)) == (0, 0, 1)
    # New hours that continue the episode update it instead of opening another.
    add_hours(engine, range(40, 42), {40: 0.9})
    later, _ = run_monitoring(engine=engine)
    assert later.new_scores == 40
    assert (later.alerts_inserted, later.alerts_updated, alert_count(engine)) == (0, 1, 1)
    with engine.connect() as connection:
        end = connection.execute(select(Alert.window_end)).scalar_one()
    assert end.replace(tzinfo=UTC) == START + timedelta(hours=41)
    report = write_report(engine=engine, out=tmp_path / "report.html", days=3)
    page = report.read_text()
    assert "Acme" in page and "<img" in page


def test_evidence_is_shaded_by_the_scoring_model_attributions(engine: Engine,
                                                              tmp_path: Path) -> None:
    texts = [f"{s} ticket number 7 today" for s in SUBJECTS]
    tokenizer = train_tokenizer(texts * 3, vocab_size=200, min_frequency=1)
    config = SentimentConfig(vocab_size=tokenizer.vocab_size, max_len=32, d_model=16,
                             n_heads=2, n_layers=1, d_ff=32, dropout=0.0)
    torch.manual_seed(0)
    model = SentimentEncoder(config)
    with torch.no_grad():
        model.head.weight.normal_()
    trained = TrainedSentiment("fast", model.eval(), tokenizer, config)
    sha = save_sentiment(trained, tmp_path / "fast.pt")
    version = register_version(engine=engine, name="sentiment-fast", eval_set="e",
                               primary_metric="f1", metrics={"f1": 0.8}, params={},
                               artifact_path=str(tmp_path / "fast.pt"), sha256=sha).id
    add_hours(engine, range(0, 40), {38: 0.9}, version=version)
    run_monitoring(engine=engine)
    with engine.connect() as connection:
        evidence = json.loads(connection.execute(select(Alert.evidence)).scalar_one())
    words = explain_texts(trained, [doc["text"] for doc in evidence], steps=STEPS)
    assert [doc["highlights"] for doc in evidence] == [
        [list(pair) for pair in top_words(w)] for w in words]
    assert {doc["highlighted_by"] for doc in evidence} == {"integrated-gradients"}
    assert all(doc["highlights"] != [["account", 0.5]] for doc in evidence)
    page = write_report(engine=engine, out=tmp_path / "report.html", days=3).read_text()
    first = evidence[0]["highlights"]
    shaded = re.findall(r'title="weight [0-9.]+">([^<]+)</mark>', page)
    assert first and {w for w, _ in first} <= set(shaded)
    assert "words that pushed it toward negative (integrated-gradients)" in page


def test_cli_lists_and_acknowledges_alerts(engine: Engine, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI test uses the default SQLite store")
    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    store = ready_engine(Settings())
    add_hours(store, range(0, 40), {38: 0.9})
    run_monitoring(engine=store)
    from flows.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["alerts", "--entity", "Acme"])
    assert listed.exit_code == 0, listed.output
    assert "Acme" in listed.output and "open" in listed.output
    acked = runner.invoke(app, ["alerts", "ack", "1"])
    assert acked.exit_code == 0 and "acknowledged" in acked.output
    missing = runner.invoke(app, ["alerts", "ack", "99"])
    assert missing.exit_code == 2 and "no alert has id 99" in missing.output
    bad = runner.invoke(app, ["alerts", "--since", "yesterday"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output
    # Any case finds the entity; a name that finds nothing says which names exist.
    assert "negative share 90% vs 20%" in runner.invoke(app, ["alerts", "--entity",
                                                             "acme"]).output
    unknown = runner.invoke(app, ["alerts", "--entity", "acne"])
    assert unknown.output.strip() == "no alerts for entity 'acne'; alerts exist for: Acme"
    assert "0 alerts" in runner.invoke(app, ["alerts", "--status", "open"]).output
    exported = runner.invoke(app, ["alerts", "--format", "csv", "--status", "acknowledged"])
    lines = exported.output.splitlines()
    assert lines[0].startswith("id,severity,entity,topic,window,window_start,window_end")
    assert lines[1].startswith("1,") and ",Acme,,hour,2024-03-02T14:00:00+00:00," in lines[1]
    [row] = json.loads(runner.invoke(app, ["alerts", "--format", "json"]).output)
    assert (row["entity"], row["status"], row["reason"]) == (
        "Acme", "acknowledged", "negative share 90% vs 20%")
    shown = runner.invoke(app, ["alerts", "show", "1"])
    assert shown.exit_code == 0 and "why: negative share 90% vs 20%" in shown.output
    assert "  words: account\n" in shown.output  # the stored highlights, no model file
    out = tmp_path / "r.html"
    made = runner.invoke(app, ["report", "--out", str(out)])
    assert made.exit_code == 0 and out.exists()


def test_topics_are_learned_once_and_every_document_gets_one(engine: Engine,
                                                             tmp_path: Path) -> None:
    from flows.topics import refresh_topics
    from storage.schema import DocumentTopic, Topic

    add_hours(engine, range(0, 6), {})
    name, assigned = refresh_topics(engine=engine, models_dir=tmp_path, k=3)
    assert assigned == 120
    again, more = refresh_topics(engine=engine, models_dir=tmp_path, k=3)
    assert (again, more) == (name, 0)
    add_hours(engine, range(6, 7), {})
    assert refresh_topics(engine=engine, models_dir=tmp_path, k=3) == (name, 20)
    with engine.connect() as connection:
        topics = connection.execute(select(func.count()).select_from(Topic)).scalar()
        rows = connection.execute(select(func.count()).select_from(DocumentTopic)).scalar()
    assert (topics, rows) == (3, 140)
    documents = scored_documents(engine=engine)
    assert documents["topic"].null_count() == 0


def rescore(engine: Engine, p_negative: float) -> int:
    """Every message scored again by a new model version that reads them all as negative."""
    version = register_version(engine=engine, name="sentiment-fast", eval_set="e",
                               primary_metric="f1", metrics={"f1": 0.9}, params={},
                               artifact_path="", sha256="").id
    with engine.begin() as connection:
        ids = connection.execute(select(Message.id, Message.message_id)).all()
        for doc, key in ids:
            hour, n = (int(part) for part in key.split("-"))
            negative = n < 14 if hour == 38 else n < 4  # a milder surge than first judged
            p_neg = p_negative if negative else 0.05
            connection.execute(insert(SentimentScore), {
                "doc_kind": "message", "doc_id": doc, "model_version_id": version,
                "p_negative": p_neg, "p_neutral": 0.05, "p_positive": 0.95 - p_neg,
                "score": 0.95 - 2 * p_neg, "highlights": "[]", "sentences": 1,
                "scored_at": datetime.now(UTC)})
    return int(version)


def test_rescoring_records_a_revision_and_pages_nobody_about_the_past(engine: Engine) -> None:
    from storage.alerts import acknowledge_alert, get_alert, list_alerts

    add_hours(engine, range(0, 40), {38: 0.9})
    run_monitoring(engine=engine, horizon=timedelta(days=100_000))
    [first] = list_alerts(engine=engine)
    acknowledge_alert(engine=engine, alert_id=first.id)
    new = rescore(engine, p_negative=0.95)
    summary, _ = run_monitoring(engine=engine, horizon=timedelta(days=2))
    assert (summary.alerts_inserted, summary.alerts_revised) == (0, 1)
    shown = get_alert(engine=engine, alert_id=first.id)
    assert shown is not None and shown.status == "acknowledged"
    assert shown.model_version_id == new
    assert [r["old_severity"] for r in shown.revisions] == [first.severity]
    assert [a.id for a in list_alerts(engine=engine, status="open")] == []


def test_monitor_judges_volume_at_the_alert_alpha_setting(
        prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four days of 17-23 mentions an hour, then an hour of 40 at the usual negative share:
    a buzz with upper-tail probability 5e-5 under the count model, so it pages at
    SENTREC_ALERT_ALPHA=1e-3 and not at 1e-7."""
    from flows.cli import app

    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    wobble = [0, 2, -2, 1, -1, 3, -3, 0]
    volumes = {hour: 20 + wobble[hour % 8] for hour in range(95)} | {95: 40}
    said = {}
    for alpha in ("1e-3", "1e-7"):
        monkeypatch.setenv("SENTREC_HOME", str(tmp_path / alpha))
        monkeypatch.setenv("SENTREC_ALERT_ALPHA", alpha)
        add_hours(ready_engine(Settings()), range(0, 96), {}, volumes=volumes, places=True)
        result = CliRunner().invoke(app, ["monitor"])
        assert result.exit_code == 0, result.output
        said[alpha] = " ".join(result.output.split()).split(" new (")[0]
        listed = CliRunner().invoke(app, ["alerts", "--format", "json"])
        if alpha == "1e-3":
            [alert] = json.loads(listed.output)
            assert alert["window_start"] == "2024-03-04T23:00:00+00:00"
            assert alert["reason"].startswith("mentions 40 vs 20 usual for a Monday 23:00")
            # The report monitor wrote drew the charts; the same report again reuses them.
            again = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "r.html")])
            assert "(0 charts drawn, 2 unchanged ones reused)" in again.output
    assert said == {"1e-3": "1,940 new scores; alerts: 1", "1e-7": "1,940 new scores; alerts: 0"}


def test_an_hourly_run_judges_the_new_hour_on_the_counts_too(engine: Engine) -> None:
    """Monitoring four days, then the next hour with twice the usual mentions at the usual
    share: the incremental run must see the weeks the count model learns the usual from,
    not only the day the share baseline needs."""
    from domain.counts import CountConfig
    from domain.detection import DetectorConfig

    config = DetectorConfig(counts=CountConfig(alpha=1e-3))
    wobble = [0, 2, -2, 1, -1, 3, -3, 0]
    add_hours(engine, range(0, 95), {}, volumes={h: 20 + wobble[h % 8] for h in range(95)})
    first, _ = run_monitoring(engine=engine, config=config)
    assert first.alerts_inserted == 0
    add_hours(engine, range(95, 96), {}, volumes={95: 40})
    summary, _ = run_monitoring(engine=engine, config=config)
    assert (summary.new_scores, summary.alerts_inserted) == (40, 1)
    with engine.connect() as connection:
        reason = connection.execute(select(Alert.reason)).scalar_one()
    assert reason.startswith("mentions 40 vs 20 usual for a Monday 23:00")
