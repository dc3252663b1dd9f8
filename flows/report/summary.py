"""What the risk report shows of alerts in plain text: the markdown summary a monitoring run
publishes as a Prefect artifact, and the time formats the page shares with it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol


class AlertView(Protocol):
    """What the report reads of an alert (``AlertRecord`` and ``StoredAlert`` both fit)."""

    @property
    def dedup_key(self) -> str: ...
    @property
    def entity(self) -> str: ...
    @property
    def topic(self) -> str | None: ...
    @property
    def window_start(self) -> datetime: ...
    @property
    def window_end(self) -> datetime: ...
    @property
    def observed(self) -> float: ...
    @property
    def baseline(self) -> float: ...
    @property
    def z(self) -> float: ...
    @property
    def severity(self) -> int: ...
    @property
    def volume(self) -> int: ...
    @property
    def detector(self) -> str: ...
    @property
    def model_version_id(self) -> int | None: ...
    @property
    def status(self) -> str: ...


def when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def span(start: datetime, end: datetime) -> str:
    same_day = start.astimezone(UTC).date() == end.astimezone(UTC).date()
    return f"{when(start)} – {end.astimezone(UTC):{'%H:%M' if same_day else '%Y-%m-%d %H:%M'}} UTC"


def report_markdown(alerts: Sequence[AlertView], *, max_rows: int = 20) -> str:
    """A short markdown summary for a Prefect artifact."""
    if not alerts:
        return "## Sentiment alerts\n\nNo alerts in this period.\n"
    ranked = sorted(alerts, key=lambda a: (-a.severity, a.entity, a.window_start))
    plural = "s" if len(ranked) > 1 else ""
    lines = ["## Sentiment alerts", "", f"{len(ranked)} alert{plural}, most severe first.", "",
             "| severity | entity | topic | window (UTC) | negative share vs baseline | z | "
             "volume | detector | status |", "|---:|---|---|---|---:|---:|---:|---|---|"]
    for a in ranked[:max_rows]:
        cells = [str(a.severity), a.entity, a.topic or "all", span(a.window_start,
                                                                     a.window_end),
                 f"{a.observed:.0%} vs {a.baseline:.0%}", f"{a.z:.1f}", str(a.volume),
                 a.detector, a.status]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if len(ranked) > max_rows:
        lines.append(f"\n{len(ranked) - max_rows} more in the HTML report.")
    return "\n".join(lines) + "\n"
