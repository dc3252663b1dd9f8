"""``sentrec demo``: the whole pipeline on the bundled sample, with embedded defaults.

Ingest customer-service tweets, support threads, financial sentences and retail purchases;
train the fast sentiment model and score every document; detect surges and write the risk
report; train the recommender and publish everyone's top 100; index the support threads and
suggest replies to one customer message; then show where to look next.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domain.errors import NotReadyError
from domain.records import Stream
from domain.settings import Settings
from flows.runtime import ready_engine
from storage.ingest import table_counts
from storage.registry import Promotion

SENTIMENT_MINUTES = 2.0  # training budgets that keep the demo under 10 minutes on 2 cores
RECOMMENDER_MINUTES = 1.0
DEMO_USER = "17850"  # the sample's first customer
# A message for the support assistant, and the brand whose past cases answer it.
DEMO_QUESTION = ("my iphone keeps restarting since the update", "AppleSupport")

DEMO_FILES = (
    (Stream.MESSAGES, "airline_tweets_sample.csv", "airline-tweets"),
    (Stream.MESSAGES, "twcs_sample.csv", "twcs"),
    (Stream.NEWS, "phrasebank_allagree.txt", "phrasebank"),
    (Stream.EVENTS, "online_retail_sample.csv", "online-retail"),
    (Stream.ITEMS, "online_retail_sample.csv", "online-retail"),
)


def run_demo(*, data: Path, console: Console) -> None:
    """Ingest the sample through the real flows and print what was loaded."""
    from flows.ingest import FLOWS

    missing = [name for _, name, _ in DEMO_FILES if not (data / name).exists()]
    if missing:
        raise NotReadyError(f"{data} lacks {', '.join(missing)}: run the demo from the "
                            "repository root or pass --data to the examples/data folder")
    settings = Settings()
    engine = ready_engine(settings)
    console.rule("[bold]sentrec demo")
    console.print(f"store: {engine.url.render_as_string(hide_password=True)}")
    started = time.perf_counter()
    table = Table(title="ingested batches")
    for column in ("stream", "file", "read", "loaded", "rejected", "duplicate", "labels",
                   "status"):
        table.add_column(column)
    with console.status("starting Prefect and ingesting the sample") as status:
        for stream, name, fmt in DEMO_FILES:
            status.update(f"ingesting {stream.value} from {name}")
            for s in FLOWS[stream](paths=[str(data / name)], fmt=fmt, settings=settings):
                table.add_row(stream.value, name, f"{s.rows_read:,}", f"{s.loaded:,}",
                              f"{s.rejected:,}", f"{s.duplicate:,}", f"{s.labels_loaded:,}",
                              "already ingested" if s.skipped else "loaded")
    console.print(table)
    totals = Table(title="the store now holds")
    totals.add_column("table")
    totals.add_column("rows", justify="right")
    for name, count in table_counts(engine=engine).items():
        totals.add_row(name, f"{count:,}")
    console.print(totals)
    _models(settings, console)
    console.rule("[bold]done")
    console.print(f"finished in {time.perf_counter() - started:.0f} s. Rejected rows and "
                  "their reasons: [bold]sentrec rejects BATCH_ID[/]. Running the demo again "
                  "ingests nothing twice.")


def _models(settings: Settings, console: Console) -> None:
    """Train, score, monitor, report, publish; print what a person looks at next."""
    from flows.monitor_sentiment import monitor_sentiment
    from flows.publish_recommendations import publish_recommendations
    from flows.score_documents import score_documents
    from flows.train_recommender import train_recommender_flow
    from flows.train_sentiment import train_sentiment_flow

    with console.status("training the fast sentiment model (about 2 minutes)"):
        sentiment = train_sentiment_flow(settings=settings, profile="fast",
                                         max_minutes=SENTIMENT_MINUTES)
    m = sentiment.metrics
    console.print(f"sentiment v{sentiment.version.version}: accuracy {m['accuracy']:.3f}, "
                  f"macro-F1 {m['macro_f1']:.3f} on {sentiment.test_size:,} held-out "
                  f"documents; {_verdict(sentiment.promotion)}")
    with console.status("scoring every document"):
        scored = score_documents(settings=settings)
    console.print(f"scored {scored.scored:,} documents")
    with console.status("detecting negative surges"):
        monitored = monitor_sentiment(settings=settings, report_days=10)
    with console.status("training the recommender (about 1 minute)"):
        recommender = train_recommender_flow(settings=settings, source="online-retail",
                                             max_minutes=RECOMMENDER_MINUTES)
    r = recommender.metrics
    console.print(f"recommender v{recommender.version.version}: test NDCG@10 "
                  f"{r['test_ndcg@10']:.4f}, HR@10 {r['test_hr@10']:.4f}; "
                  f"{_verdict(recommender.promotion)}")
    with console.status("publishing recommendations"):
        published = publish_recommendations(settings=settings)
    console.print(f"recommendation set {published.set_id} is active for "
                  f"{published.users:,} users")
    _show_alerts(settings, console)
    _show_user(settings, console)
    _show_suggestion(settings, console)
    console.print(f"risk report: [bold]{monitored.report}[/]")
    console.print("start the lookup API: [bold].venv/bin/sentrec apikey create demo[/] then "
                  "[bold].venv/bin/sentrec serve[/] and call "
                  "GET /v1/users/17850/recommendations or POST /v1/support/suggest with the "
                  "key in X-API-Key")


def _verdict(promotion: Promotion) -> str:
    return ("live" if promotion.promoted else "not promoted, the champion stays live") + \
        f" ({promotion.reason})"


def _show_alerts(settings: Settings, console: Console) -> None:
    from storage.alerts import list_alerts

    alerts = list_alerts(engine=ready_engine(settings), limit=5)
    if not alerts:
        console.print("alerts: none (no entity's mentions, negative mentions or negative share "
                      "rose beyond their usual range)")
        return
    table = Table(title="most severe alerts")
    for column in ("severity", "entity", "window (UTC)", "why", "status"):
        table.add_column(column, overflow="fold")
    for a in alerts:
        table.add_row(str(a.severity), escape(a.entity), f"{a.window_start:%Y-%m-%d %H:%M}",
                      escape(a.reason), a.status + (" (backfill)" if a.backfill else ""))
    console.print(table)
    if any(a.backfill for a in alerts):
        console.print("backfill: found in windows older than the alert horizon (the sample is "
                      "from 2015), so kept as history and never paged")


def _show_user(settings: Settings, console: Console) -> None:
    from flows.cli.tables import recommendations_table

    console.print(recommendations_table(ready_engine(settings), DEMO_USER, 5)[1])


def _show_suggestion(settings: Settings, console: Console) -> None:
    """Index the support threads, then answer one customer message as `sentrec suggest`."""
    from flows.cli.support import print_answer
    from flows.index_conversations import index_conversations
    from service.support import SupportAssistant

    with console.status("indexing support conversations"):
        built = index_conversations(settings=settings)
    text, entity = DEMO_QUESTION
    console.print(f"support case index v{built.version}: {built.pairs:,} resolved cases of "
                  f"{built.brands:,} entities. [bold]sentrec suggest \"{text}\" --entity "
                  f"{entity}[/]:")
    assistant = SupportAssistant(ready_engine(settings), settings.home / "models")
    print_answer(assistant.answer(text, entity=entity, k=3), console)
