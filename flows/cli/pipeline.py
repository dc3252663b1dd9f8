"""The batch steps run by hand: ``score``, ``monitor``, ``publish``, ``daily`` and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from domain.detection import DetectorName
from domain.settings import Settings
from domain.windows import Window
from flows.cli.output import console


def score(chunk_size: Annotated[int, typer.Option(min=10)] = 2_000) -> None:
    """Score every document the active sentiment model has not scored yet."""
    from flows.score_documents import run_scoring

    with console.status("scoring documents"):
        result = run_scoring(Settings(), chunk_size=chunk_size)
    console.print(f"scored {result.scored:,} documents with sentiment v{result.version} "
                  f"in {result.chunks} chunks")


def monitor(window: Annotated[Window, typer.Option(help="Window length (UTC).")] = Window.HOUR,
            detector: Annotated[DetectorName, typer.Option(
                help="Surge detector.")] = DetectorName.DEFAULT,
            by_topic: Annotated[bool, typer.Option(
                help="Watch each entity's topics separately.")] = False) -> None:
    """Detect negative surges in newly scored documents and write the risk report."""
    from flows.monitor_sentiment import monitor_sentiment

    with console.status("monitoring sentiment"):
        summary = monitor_sentiment(settings=Settings(), window=window.value,
                                    detector=detector.value, by_topic=by_topic)
    console.print(f"{summary.new_scores:,} new scores; alerts: "
                  f"[bold]{summary.alerts_inserted}[/] new ({summary.alerts_backfill} of them "
                  f"backfill), {summary.alerts_updated} updated, {summary.alerts_revised} "
                  f"revised under a new model. Report: {summary.report}")


def publish(k: Annotated[int, typer.Option(min=1, max=1000, help="Items per user.")] = 100,
            batch_users: Annotated[int, typer.Option(min=1)] = 2_000) -> None:
    """Write top-k for every user from the active recommender and activate the set."""
    from flows.publish_recommendations import run_publish

    with console.status("publishing recommendations"):
        result = run_publish(Settings(), k=k, batch_users=batch_users)
    console.print(f"set {result.set_id} is active: {result.users:,} users x top-{k} "
                  f"from recommender v{result.version} in {result.seconds:.1f} s")


def daily_command(retrain: Annotated[bool | None, typer.Option(
        "--retrain/--no-retrain", help="Force or skip retraining; by default models older "
        "than SENTREC_RETRAIN_DAYS are retrained.")] = None) -> None:
    """Run the daily flow once, now."""
    from flows.daily import daily

    with console.status("running the daily flow"):
        try:
            result = daily(settings=Settings(), retrain=retrain)
        except RuntimeError as exc:  # a failed step, named; its own run holds the traceback
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(code=1) from exc
    console.print(f"daily run done: {', '.join(result.steps) or 'nothing to do'}")


def demo(data: Annotated[Path, typer.Option(help="Folder of the demo sample.")] = Path(
        "examples/data")) -> None:
    """Run the pipeline on the bundled real sample with embedded defaults."""
    from flows.cli.demo import run_demo

    run_demo(data=data, console=console)
