"""The CLI draws the training loop's epoch records as a progress bar and ends with a table."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from flows.cli import progress as cli_progress
from models.training import PROGRESS, EpochProgress


def test_epoch_records_move_the_bar(
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(cli_progress, "console", Console(file=out, width=160))
    loop = logging.getLogger(cli_progress.LOOP_LOGGER)
    with cli_progress.epoch_progress("sentiment fast", "macro-F1"):
        for epoch, metric in ((1, 0.61), (2, 0.70)):
            loop.info("epoch %d", epoch, extra={PROGRESS: EpochProgress(
                epoch=epoch, max_epochs=40, steps=109 * epoch, metric=metric, best_metric=metric,
                best_epoch=epoch, elapsed=30.0 * epoch, eta=420.0)})
        assert loop.level == logging.INFO and not loop.propagate  # lines go to the bar only
    shown = " ".join(out.getvalue().split())
    assert "sentiment fast" in shown and "epoch 2/40" in shown
    assert "val macro-F1 0.7000 (best 0.7000 @ 2)" in shown and "left <= 420 s" in shown
    assert loop.level == logging.NOTSET and not loop.handlers  # put back as it was


def test_the_teacher_labelling_transfer_texts_gets_a_bar_of_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from models.sentiment.distil import PROGRESS as SCORING
    from models.sentiment.distil import ScoringProgress

    out = io.StringIO()
    monkeypatch.setattr(cli_progress, "console", Console(file=out, width=160))
    teacher = logging.getLogger(cli_progress.SCORING_LOGGER)
    with cli_progress.epoch_progress("sentiment fast", "macro-F1"):
        for done in (512, 1024):
            teacher.info("scored %d", done, extra={SCORING: ScoringProgress(
                done=done, total=2000, elapsed=4.0, eta=60.0)})
    shown = " ".join(out.getvalue().split())
    assert "teacher labels transfer texts" in shown and "1,024/2,000 texts" in shown
    assert "left <= 60 s" in shown and "epoch 0/?" in shown
    assert teacher.level == logging.NOTSET and not teacher.handlers


def test_the_final_table_lists_the_figures_in_order() -> None:
    out = io.StringIO()
    Console(file=out, width=100).print(cli_progress.run_table(
        "sentiment v2 (fast)", {"epochs run": "7", "validation macro-F1": 0.73456,
                                "stopped by": "time budget"}))
    rows = [" ".join(line.replace("│", " ").split()) for line in out.getvalue().splitlines()]
    assert [r for r in rows if r and not set(r) <= set("┌┐└┘─┬┴├┤┼ ")] == [
        "sentiment v2 (fast)", "epochs run 7", "validation macro-F1 0.7346",
        "stopped by time budget"]


def test_a_run_that_fails_before_its_first_epoch_leaves_no_bar(
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(cli_progress, "console", Console(file=out, width=160))
    with pytest.raises(ValueError, match="empty store"), \
            cli_progress.epoch_progress("encoder adaptation", "-MLM loss"):
        raise ValueError("empty store")
    assert out.getvalue().strip() == ""
