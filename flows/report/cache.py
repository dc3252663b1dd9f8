"""Charts of the risk report, drawn once per distinct input.

Drawing is most of a report's cost (matplotlib: about 0.24 CPU s per chart), and a report is
often written again over the same data: each monitoring run writes one, also when it found no
new scores, and ``sentrec report`` after ``monitor`` shows the same period. An entity whose
rows did not change need not be drawn again; a late document for one entity changes only its
rows. (When the period moves on by a window, every entity's series gains that window, so every
chart is drawn again.) A chart is therefore stored under a key made of

* what it shows: the entity's rows (as CSV: column names, values), the alert windows and
  severities drawn on it, and which chart it is;
* the code that draws it: the source of ``flows.report.charts`` and the matplotlib version, so
  a change to how charts look redraws them all without anyone remembering to bump a number;

and a report reuses a stored chart whose key matches; a chart whose rows changed gets a new key
and is drawn. The store is a folder of base64 PNG files (``SENTREC_HOME/cache/charts`` for the
flows and the CLI), written atomically, bounded to ``max_files``: the least recently used files
go first (a reused file is touched).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import polars as pl

from flows.report import charts
from flows.report.summary import AlertView

Draw = Callable[[pl.DataFrame, Sequence[AlertView]], str]
MAX_FILES = 4_000  # 20 reports of 100 entities, two charts each; 20-80 KB a file
SUFFIX = ".png.b64"


@cache
def chart_code_version() -> str:
    """A digest of the code that draws the charts and the library that renders them."""
    import matplotlib

    digest = hashlib.sha256(Path(charts.__file__).read_bytes())
    digest.update(matplotlib.__version__.encode())
    return digest.hexdigest()[:16]


class ChartCache:
    """Draws a chart, or hands back the one drawn for the same input; counts both.

    ``folder=None`` draws every chart and stores nothing.
    """

    def __init__(self, folder: Path | None, *, max_files: int = MAX_FILES) -> None:
        self.folder = folder
        self.max_files = max_files
        self.drawn = 0
        self.reused = 0

    def png(self, kind: str, rows: pl.DataFrame, alerts: Sequence[AlertView],
            draw: Draw) -> str:
        """The chart ``draw(rows, alerts)`` as base64 PNG, from the store when it holds it."""
        if self.folder is None:
            self.drawn += 1
            return draw(rows, alerts)
        path = self.folder / f"{self.key(kind, rows, alerts)}{SUFFIX}"
        try:
            image = path.read_text(encoding="ascii")
            os.utime(path)  # recently used: pruned last
            self.reused += 1
            return image
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        image = draw(rows, alerts)
        self.drawn += 1
        self._store(path, image)
        return image

    @staticmethod
    def key(kind: str, rows: pl.DataFrame, alerts: Sequence[AlertView]) -> str:
        """sha256 of the chart kind, the chart code version, the rows and the alerts drawn."""
        digest = hashlib.sha256(f"{kind}\n{chart_code_version()}\n".encode())
        digest.update(rows.write_csv().encode())
        for alert in alerts:
            digest.update(f"{alert.window_start.isoformat()} {alert.window_end.isoformat()} "
                          f"{alert.severity}\n".encode())
        return digest.hexdigest()

    def _store(self, path: Path, image: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(image)
        os.replace(temporary, path)  # a reader never sees half a chart

    def prune(self) -> int:
        """Remove the least recently used charts past ``max_files``; how many went."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        stored = sorted(self.folder.glob(f"*{SUFFIX}"), key=_last_used, reverse=True)
        for stale in stored[self.max_files:]:
            stale.unlink(missing_ok=True)
        return max(0, len(stored) - self.max_files)


def home_charts(home: Path) -> ChartCache:
    """The chart store of a sentrec home: what the flows and the CLI draw reports with."""
    return ChartCache(home / "cache" / "charts")


def _last_used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # pruned by a report running beside this one
        return 0.0
