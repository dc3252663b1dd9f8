"""``sentrec detect SERIES``: the surge detectors on counts another listening tool made."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from domain.windows import Window
from flows.cli.output import console


def detect(series: Annotated[Path, typer.Argument(
               help="CSV, JSON Lines or Parquet: entity, window_start, volume [, negative], "
               "or entity, window_start, value.", exists=True, dir_okay=False)],
           window: Annotated[Window | None, typer.Option(
               help="Window length; inferred from the file when left out.")] = None,
           out: Annotated[Path | None, typer.Option(
               help="Also write the alarms to this CSV file.")] = None) -> None:
    """Judge a pre-aggregated mention series with the monitoring detectors; print alarms."""
    from domain.detection import detector_config
    from domain.series_input import detect_series, read_series
    from domain.settings import Settings

    frame = read_series(series, window=window)
    alarms = detect_series(frame, config=detector_config(Settings()))
    entities = frame["entity"].n_unique()
    table = Table(title=f"{len(alarms)} alarms in {frame.height:,} windows of {entities} "
                  "entities")
    for column in ("entity", "from (UTC)", "to", "severity", "why"):
        table.add_column(column, overflow="fold")
    for a in alarms:
        table.add_row(escape(a.entity), f"{a.window_start:%Y-%m-%d %H:%M}",
                      f"{a.window_end:%Y-%m-%d %H:%M}", str(a.severity), escape(a.reason))
    console.print(table)
    if out is not None:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["entity", "window_start", "window_end", "severity", "signals",
                             "reason"])
            for a in alarms:
                writer.writerow([a.entity, a.window_start.isoformat(), a.window_end.isoformat(),
                                 a.severity, "|".join(s["signal"] for s in a.signals),
                                 a.reason])
        console.print(f"alarms written to [bold]{escape(str(out))}[/]")
