"""``sentrec train sentiment|intent|recommender``: champion/challenger training."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.errors import InvalidInputError
from domain.records import IntentFeatures, SentimentProfile
from domain.settings import Settings
from flows.cli.output import console

app = typer.Typer(help="Train models (champion/challenger).", no_args_is_help=True)


def _verdict(promoted: bool) -> str:
    return "[green]promoted[/]" if promoted else "[yellow]not promoted[/]"


@app.command("sentiment")
def train_sentiment(
    profile: Annotated[SentimentProfile, typer.Option(
        help="fast (small attention encoder) or accurate (fine-tuned MiniLM).")
    ] = SentimentProfile.FAST,
    seed: int = 0,
    max_minutes: Annotated[float | None, typer.Option(help="Training time budget.")] = None,
) -> None:
    """Train on the store's labelled documents; the model goes live only if it wins."""
    from flows.train_sentiment import train_sentiment_flow

    with console.status(f"training the {profile.value} sentiment model"):
        result = train_sentiment_flow(settings=Settings(), profile=profile.value, seed=seed,
                                      max_minutes=max_minutes)
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(result.metrics.items()))
    console.print(f"sentiment v{result.version.version} ({profile.value}): {metrics} on "
                  f"{result.test_size:,} held-out documents; "
                  f"{_verdict(result.promotion.promoted)}: {result.promotion.reason}")


@app.command("intent")
def train_intent(
    features: Annotated[IntentFeatures, typer.Option(
        help="minilm-tfidf (frozen MiniLM vectors and TF-IDF words), minilm or tfidf.")
    ] = IntentFeatures.MINILM_TFIDF,
    seed: int = 0,
) -> None:
    """Train the intent classifier on the store's intent labels; it goes live only if it wins."""
    from flows.train_intent import train_intent_flow

    with console.status(f"training the {features.value} intent model"):
        result = train_intent_flow(settings=Settings(), features=features.value,
                                   seed=seed)
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(result.metrics.items()))
    console.print(f"intent v{result.version.version} ({features.value}, {result.intents} "
                  f"intents): {metrics} on {result.test_size:,} held-out messages; answers "
                  f"'unknown' under confidence {result.threshold:.2f}; "
                  f"{_verdict(result.promotion.promoted)}: {result.promotion.reason}")


def parse_weights(options: list[str]) -> dict[str, float]:
    """``KIND=W`` options as a mapping; a malformed one is an error saying which."""
    weights: dict[str, float] = {}
    for option in options:
        kind, sep, value = option.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not kind.strip() or number is None:
            raise InvalidInputError(f"--weight {option!r} is not KIND=W with W a number "
                                    "(e.g. --weight purchase=3 --weight view=0)")
        weights[kind.strip()] = number
    return weights


@app.command("recommender")
def train_recommender(
    source: Annotated[str | None, typer.Option(help="Events source to learn from; needed "
                                               "when the store holds several.")] = None,
    max_minutes: Annotated[float, typer.Option(help="Training time budget.")] = 10.0,
    seed: int = 0,
    weight: Annotated[list[str] | None, typer.Option(
        "--weight", metavar="KIND=W", help="Weight of an event kind in training, repeatable; "
        "overrides that kind in SENTREC_EVENT_WEIGHTS, 0 leaves the kind out.")] = None,
) -> None:
    """Train the sequential recommender; it goes live only if it wins on validation."""
    from domain.sequences import check_event_weights
    from flows.train_recommender import train_recommender_flow

    settings = Settings()
    # Checked here too so that a bad option fails before a flow run starts.
    weights = check_event_weights({**settings.event_weights, **parse_weights(weight or [])})
    with console.status("training the recommender"):
        result = train_recommender_flow(settings=settings, source=source,
                                        max_minutes=max_minutes, seed=seed, weights=weights)
    m = result.metrics
    console.print(f"recommender v{result.version.version}: validation NDCG@10 "
                  f"{m['valid_ndcg@10']:.4f}, test NDCG@10 {m['test_ndcg@10']:.4f}, test "
                  f"HR@10 {m['test_hr@10']:.4f} ({result.epochs} epochs, "
                  f"{result.seconds_per_epoch:.1f} s each); "
                  f"{_verdict(result.promotion.promoted)}: {result.promotion.reason}")
