"""A training run on the terminal: an epoch progress bar while it runs, a table when it ends.

The training loop (``models.training``) knows nothing of terminals: it logs one record per
epoch carrying an ``EpochProgress``. Here a logging handler turns those records into a rich
progress bar (epochs, the validation metric, the best so far, the time left to the budget or
the last epoch); in Prefect or a log file the same records are plain lines. A distilled run's
teacher logs a ``ScoringProgress`` per chunk of transfer texts it labels
(``models.sentiment.distil``): a second bar above the epochs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.cli.output import console

LOOP_LOGGER = "models.training"
SCORING_LOGGER = "models.sentiment.distil"  # ``score_within``: a teacher's or an embedder's


class _EpochBar(logging.Handler):
    """Moves one progress bar task with each epoch record of the training loop."""

    def __init__(self, progress: Progress, task: TaskID, metric: str) -> None:
        super().__init__(level=logging.INFO)
        self.progress, self.task, self.metric = progress, task, metric
        self.seen = False  # an epoch record has arrived

    def emit(self, record: logging.LogRecord) -> None:
        from models.training import PROGRESS, EpochProgress

        event = record.__dict__.get(PROGRESS)
        if not isinstance(event, EpochProgress):
            return
        self.seen = True
        metric = "-" if event.metric is None else f"{event.metric:.4f}"
        self.progress.update(self.task, total=event.max_epochs, completed=event.epoch,
                             step=f"epoch {event.epoch}/{event.max_epochs}",
                             detail=f"val {self.metric} {metric} (best "
                             f"{event.best_metric:.4f} @ {event.best_epoch})",
                             eta=f"{event.eta:.0f} s")


class _ScoringBar(logging.Handler):
    """A bar for the teacher's labelling of transfer texts, added at its first record."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(level=logging.INFO)
        self.progress = progress
        self.task: TaskID | None = None

    def emit(self, record: logging.LogRecord) -> None:
        from models.sentiment.distil import PROGRESS, ScoringProgress

        event = record.__dict__.get(PROGRESS)
        if not isinstance(event, ScoringProgress):
            return
        if self.task is None:
            self.task = self.progress.add_task(event.what, total=None, step="", detail="",
                                               eta="?")
        self.progress.update(self.task, description=event.what, total=event.total,
                             completed=event.done,
                             step=f"{event.done:,}/{event.total:,} texts", detail="",
                             eta=f"{event.eta:.0f} s")


@contextmanager
def epoch_progress(what: str, metric: str, *, epochs: bool = True) -> Iterator[None]:
    """Show a bar for the training runs inside the block; ``metric`` names the validation
    metric. The loop's INFO lines go to the bar only, so the terminal stays one line. Texts
    scored under a deadline (a teacher's transfer set, an embedder's training texts) get a bar
    of their own; ``epochs=False`` for a model fitted without epochs (only those bars)."""
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[step]}"),
        TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
        TextColumn("left <= {task.fields[eta]}"), console=console)
    task = progress.add_task(what, total=None, step="epoch 0/?",
                             detail=f"val {metric} - (best -)", eta="?") if epochs else None
    scoring = _ScoringBar(progress)
    handlers: dict[str, logging.Handler] = {SCORING_LOGGER: scoring}
    epoch_bar = None if task is None else _EpochBar(progress, task, metric)
    if epoch_bar is not None:
        handlers[LOOP_LOGGER] = epoch_bar
    kept = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate)
            for name in handlers}
    for name, handler in handlers.items():
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.propagate = logging.getLogger().isEnabledFor(logging.INFO)  # --verbose: lines
        logger.addHandler(handler)
    try:
        with progress:
            try:
                yield
            except BaseException:
                # failed before any work was shown: the error alone is the whole story
                if task is not None and not (epoch_bar and epoch_bar.seen) \
                        and scoring.task is None:
                    progress.remove_task(task)
                raise
    finally:
        for name, handler in handlers.items():
            logger = logging.getLogger(name)
            logger.removeHandler(handler)
            logger.setLevel(kept[name][0])
            logger.propagate = kept[name][1]


def run_table(title: str, rows: Mapping[str, Any]) -> Table:
    """The final table of a training run: one row per figure, in the order given."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    return table
