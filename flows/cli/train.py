"""``sentrec train sentiment|adapt|intent|recommender``: champion/challenger training, and the
adaptation of the accurate sentiment profile's encoder to the store's text."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.errors import InvalidInputError
from domain.records import IntentFeatures, SentimentProfile
from domain.settings import Settings
from flows.cli.output import console
from flows.cli.progress import epoch_progress, run_table

Seed = Annotated[int, typer.Option(min=0, help="Seed of the run (0 or more).")]
app = typer.Typer(help="Train models (champion/challenger).", no_args_is_help=True)


def _verdict(promoted: bool) -> str:
    return "[green]promoted[/]" if promoted else "[yellow]not promoted[/]"


@app.command("sentiment")
def train_sentiment(
    profile: Annotated[SentimentProfile, typer.Option(
        help="fast (small attention encoder) or accurate (fine-tuned MiniLM).")
    ] = SentimentProfile.FAST,
    seed: Seed = 0,
    max_minutes: Annotated[float | None, typer.Option(
        min=0.01, help="Time budget of the whole run; default: SENTREC_SENTIMENT_TRAIN_MINUTES "
        "(8).")] = None,
    teacher: Annotated[int | None, typer.Option(
        min=1, help="Accurate sentiment version the fast profile learns from; default: the "
        "active one if accurate, else the newest accurate version.")] = None,
    no_teacher: Annotated[bool, typer.Option(
        "--no-teacher", help="Train the fast profile from the labels alone.")] = False,
    epochs: Annotated[int | None, typer.Option(
        min=1, help="At most this many passes over the data (a fixed amount of training).")
    ] = None,
) -> None:
    """Train on the store's labelled documents; the model goes live only if it beats the
    active one beyond noise. With an accurate version in the registry, the fast profile is
    distilled from it on every unlabelled text in the store, as many as its time allows."""
    from flows.train_sentiment import train_sentiment_flow

    with epoch_progress(f"sentiment {profile.value}", "macro-F1"):
        result = train_sentiment_flow(settings=Settings(), profile=profile.value, seed=seed,
                                      max_minutes=max_minutes, teacher=teacher,
                                      use_teacher=not no_teacher, max_epochs=epochs)
    m, params = result.metrics, result.version.params
    taught = {"teacher": f"sentiment v{params['teacher_version']}",
              "transfer texts labelled": f"{params['n_transfer']:,} of "
              f"{params['transfer_pool']:,}",
              "augmented copies labelled": f"{params.get('n_augmented', 0):,} of "
              f"{params.get('augmented_pool', 0):,}",
              "of them labelled in earlier runs":
              f"{params.get('n_reused', 0):,}",
              "training texts taught their own label (no time for the teacher)":
              f"{params.get('n_taught_labels', 0):,}"} if "teacher_version" in params else {}
    if "lexical_mix" in m:  # models.sentiment.lexical
        taught["lexical member's share"] = (
            f"{1 - m['lexical_mix']:.2f} (encoder alone: validation macro-F1 "
            f"{m['val_encoder_macro_f1']:.4f})")
    console.print(run_table(f"sentiment v{result.version.version} ({params['profile']})", {
        **taught,
        "epochs run": f"{m['epochs_run']:g}", "best epoch": f"{m['best_epoch']:g}",
        "steps": int(m["steps"]), "validation macro-F1": m["val_macro_f1"],
        "validation accuracy": m["val_accuracy"],
        f"held-out macro-F1 ({result.test_size:,} documents)": m["macro_f1"],
        "held-out accuracy": m["accuracy"],
        "ECE raw -> calibrated": f"{m['ece_uncalibrated']:.4f} -> {m['ece']:.4f}",
        "time": f"{result.seconds:.0f} s", "stopped by": result.stop_reason}))
    console.print(f"{_verdict(result.promotion.promoted)}: {result.promotion.reason}")


@app.command("adapt")
def train_adapt(
    seed: Seed = 0,
    max_minutes: Annotated[float | None, typer.Option(
        min=0.01, help="Time budget of the whole run; default: SENTREC_ADAPT_TRAIN_MINUTES "
        "(6).")] = None,
    max_steps: Annotated[int | None, typer.Option(
        min=1, help="Stop after this many encoder steps (after the head's warm-up) instead of "
        "at a time budget: a run of fixed length.")] = None,
) -> None:
    """Adapt the accurate sentiment profile's MiniLM encoder to the store's text (masked
    language modelling); it goes live if its held-out MLM loss beats MiniLM's own beyond
    noise, and
    `train sentiment --profile accurate` starts from it."""
    from flows.adapt_encoder import adapt_encoder_flow

    with epoch_progress("encoder adaptation", "-MLM loss"):
        result = adapt_encoder_flow(settings=Settings(), seed=seed, max_minutes=max_minutes,
                                    max_steps=max_steps)
    m = result.metrics
    console.print(run_table(f"sentiment encoder v{result.promotion.candidate.version}", {
        "texts (held out)": f"{int(m['n_texts']):,} ({int(m['n_val']):,})",
        "head warm-up steps": int(m["head_steps"]), "encoder steps": int(m["steps"]),
        "held-out MLM loss, MiniLM": m["mlm_loss_before"],
        "held-out MLM loss, adapted": m["mlm_loss_after"],
        "perplexity MiniLM -> adapted":
            f"{m['perplexity_before']:.2f} -> {m['perplexity_after']:.2f}",
        "time": f"{result.seconds:.0f} s", "stopped by": result.stop_reason}))
    verdict = "[green]live[/]" if result.promotion.promoted else "[yellow]not live[/]"
    console.print(f"{verdict}: {result.promotion.reason}")


@app.command("intent")
def train_intent(
    features: Annotated[IntentFeatures, typer.Option(
        help="minilm-tfidf (frozen MiniLM vectors and TF-IDF words), minilm or tfidf.")
    ] = IntentFeatures.MINILM_TFIDF,
    seed: Seed = 0,
    max_minutes: Annotated[float | None, typer.Option(
        min=0.01, help="Time budget of the whole run; default: SENTREC_INTENT_TRAIN_MINUTES "
        "(5). Training messages are embedded for 30% of it; the model is fitted on those.")
    ] = None,
) -> None:
    """Train the intent classifier on the store's intent labels; it goes live only if it beats
    the active one beyond noise."""
    from flows.train_intent import train_intent_flow

    with epoch_progress(f"intent {features.value}", "accuracy", epochs=False):
        result = train_intent_flow(settings=Settings(), features=features.value, seed=seed,
                                   max_minutes=max_minutes)
    m = result.metrics
    console.print(run_table(
        f"intent v{result.version.version} ({features.value}, {result.intents} intents)", {
            "trained on": f"{result.train_size:,} of {result.train_available:,} labelled "
                          "messages",
            f"held-out accuracy ({result.test_size:,} messages)": m["accuracy"],
            "held-out macro-F1": m["macro_f1"],
            "answered (confidence >= threshold)": m["answered"],
            "answered right": m["answered_right"],
            "answers 'unknown' under confidence": f"{result.threshold:.2f}",
            "time": f"{result.seconds:.0f} s", "stopped by": result.stop_reason}))
    console.print(f"{_verdict(result.promotion.promoted)}: {result.promotion.reason}")


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
    max_minutes: Annotated[float | None, typer.Option(
        min=0.01, help="Time budget of the whole run; default: "
        "SENTREC_RECOMMENDER_TRAIN_MINUTES (10).")] = None,
    seed: Seed = 0,
    weight: Annotated[list[str] | None, typer.Option(
        "--weight", metavar="KIND=W", help="Weight of an event kind in training, repeatable; "
        "overrides that kind in SENTREC_EVENT_WEIGHTS, 0 leaves the kind out.")] = None,
) -> None:
    """Train the sequential recommender; it goes live only if it beats the active one beyond
    noise on validation."""
    from domain.sequences import check_event_weights
    from flows.train_recommender import train_recommender_flow

    settings = Settings()
    # Checked here too so that a bad option fails before a flow run starts.
    weights = check_event_weights({**settings.event_weights, **parse_weights(weight or [])})
    with epoch_progress("recommender", "NDCG@10"):
        result = train_recommender_flow(settings=settings, source=source,
                                        max_minutes=max_minutes, seed=seed, weights=weights)
    m = result.metrics
    console.print(run_table(f"recommender v{result.version.version}", {
        "epochs run": result.epochs, "best epoch": result.best_epoch,
        "steps": int(m["steps"]), "validation NDCG@10": m["valid_ndcg@10"],
        "test NDCG@10": m["test_ndcg@10"], "test HR@10": m["test_hr@10"],
        "time": f"{result.seconds:.0f} s ({result.seconds_per_epoch:.1f} s an epoch)",
        "stopped by": result.stop_reason}))
    console.print(f"{_verdict(result.promotion.promoted)}: {result.promotion.reason}")
