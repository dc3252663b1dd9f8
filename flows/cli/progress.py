"""A training run on the terminal: an epoch progress bar while it runs, a table when it ends.

The training loop (``models.training``) knows nothing of terminals: it logs one record per
epoch carrying an ``EpochProgress``. Here a logging handler turns those records into a rich
progress bar (epochs, the validation metric, the best so far, the time left to the budget or
the last epoch); in Prefect or a log file the same records are plain lines.
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


class _EpochBar(logging.Handler):
    """Moves one progress bar task with each epoch record of the training loop."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        super().__init__(level=logging.INFO)
        self.progress, self.task = progress, task

    def emit(self, record: logging.LogRecord) -> None:
        from models.training import PROGRESS, EpochProgress

        event = record.__dict__.get(PROGRESS)
        if not isinstance(event, EpochProgress):
            return
        metric = "-" if event.metric is None else f"{event.metric:.4f}"
        self.progress.update(self.task, total=event.max_epochs, completed=event.epoch,
                             epochs=event.max_epochs, metric=metric,
                             best=f"{event.best_metric:.4f} @ {event.best_epoch}",
                             eta=f"{event.eta:.0f} s")


@contextmanager
def epoch_progress(what: str, metric: str) -> Iterator[None]:
    """Show a bar for the training runs inside the block; ``metric`` names the validation
    metric. The loop's INFO lines go to the bar only, so the terminal stays one line."""
    progress = Progress(
        TextColumn(f"[bold]{what}"), BarColumn(),
        TextColumn("epoch {task.completed}/{task.fields[epochs]}"),
        TextColumn(f"val {metric} {{task.fields[metric]}} (best {{task.fields[best]}})"),
        TimeElapsedColumn(), TextColumn("left <= {task.fields[eta]}"), console=console)
    task = progress.add_task(what, total=None, epochs="?", metric="-", best="-", eta="?")
    logger = logging.getLogger(LOOP_LOGGER)
    handler = _EpochBar(progress, task)
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = logging.getLogger().isEnabledFor(logging.INFO)  # --verbose keeps lines
    logger.addHandler(handler)
    try:
        with progress:
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def run_table(title: str, rows: Mapping[str, Any]) -> Table:
    """The final table of a training run: one row per figure, in the order given."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    return table
