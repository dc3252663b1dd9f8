"""The chart of one entity (and topic) in the risk report: negative share against its baseline
band, mean score and volume over time, alert windows shaded; a base64 PNG (matplotlib, Agg)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import polars as pl

from flows.report.summary import AlertView


def chart_png(rows: pl.DataFrame, alerts: Sequence[AlertView]) -> str:
    """Negative share with baseline band, mean score and volume; base64 PNG.

    Windows the detector judged are drawn in colour; the others (too few documents, or no
    baseline yet) as faint grey dots, because their share swings on a handful of documents.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judged_col = rows["judged"] if "judged" in rows.columns else rows["volume"] > 0
    judged, other = rows.filter(judged_col), rows.filter(~judged_col)
    x = judged["window_start"].to_list()
    fig, (share, score, volume) = plt.subplots(
        3, 1, figsize=(12, 5.8), sharex=True, gridspec_kw={"height_ratios": [3, 1.2, 1.2]})
    if "band_low" in rows.columns and judged.height:
        # Alerts are one-sided (rises only), so the band runs from baseline to the alert line.
        share.fill_between(x, judged["baseline"].to_numpy(), judged["band_high"].to_numpy(),
                           color="#bcccdc", alpha=0.7, lw=0, label="usual rise")
        share.plot(x, judged["baseline"].to_numpy(), color="#627d98", lw=1, ls="--",
                   label="baseline")
        share.plot(x, judged["band_high"].to_numpy(), color="#e57373", lw=0.8, ls=":",
                   label="alert line")
    share.plot(other["window_start"].to_list(), other["negative_share"].to_numpy(), ".",
               color="#cbd2d9", ms=3, label="not judged (few documents)")
    # The line breaks where windows were not judged, so it never bridges a gap.
    share.plot(rows["window_start"].to_list(),
               rows.select(pl.when(judged_col).then(pl.col("negative_share")))
               .to_series().fill_null(float("nan")).to_numpy(),
               "-o", color="#1f2933", lw=1, ms=2.5, label="negative share")
    if "fired" in rows.columns:
        fired = rows.filter(pl.col("fired"))
        share.plot(fired["window_start"].to_list(), fired["negative_share"].to_numpy(), "o",
                   color="#c62828", ms=8, label="alert window")
    for alert in alerts:
        for axis in (share, score, volume):
            axis.axvspan(alert.window_start, alert.window_end, color="#e53935", alpha=0.25,
                         lw=0)
        share.annotate(f"severity {alert.severity}", (alert.window_start, 1.03),
                       color="#c62828", fontsize=9, ha="center", annotation_clip=False)
    share.set_ylim(0, 1)
    share.set_ylabel("negative share")
    share.legend(loc="lower left", fontsize=8, ncol=6, frameon=True, framealpha=0.9)
    score.plot(x, judged["mean_score"].to_numpy(), color="#2f6fb0", lw=1)
    score.axhline(0, color="#9aa5b1", lw=0.6)
    score.set_ylim(-1, 1)
    score.set_ylabel("mean score")
    width = (rows["window_end"][0] - rows["window_start"][0]) if rows.height else None
    for part, colour in ((judged, "#627d98"), (other, "#cbd2d9")):
        if not part.height:  # matplotlib cannot convert a timedelta width with no bars
            continue
        volume.bar(part["window_start"].to_list(), part["volume"].to_numpy(), width=width,
                   align="edge", color=colour)
    volume.set_ylabel("documents")
    volume.set_xlabel("window start (UTC)")
    for axis in (share, score, volume):
        axis.grid(alpha=0.25)
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def trend_png(rows: pl.DataFrame, alerts: Sequence[AlertView]) -> str:
    """One entity's trend row, three small panels: mentions against the usual for the time,
    negative mentions with the band they would alert above, and the negative share with its
    band; alert windows shaded, alerting windows as red dots. Base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = _times(rows)
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    fig, (volume, negative, share) = plt.subplots(1, 3, figsize=(15, 2.0), sharex=True)
    volume.plot(x, rows["volume"].to_numpy(), color="#1f2933", lw=0.8, label="mentions")
    negative.plot(x, rows["negatives"].to_numpy(), color="#c62828", lw=0.8,
                  label="negative mentions")
    if "expected_volume" in rows.columns:
        volume.plot(x, rows["expected_volume"].to_numpy(), color="#627d98", lw=0.8, ls="--",
                    label="usual")
        negative.fill_between(x, rows["expected_negatives"].fill_null(float("nan")).to_numpy(),
                              rows["negatives_band"].fill_null(float("nan")).to_numpy(),
                              color="#bcccdc", alpha=0.7, lw=0, label="usual to alert line")
        _dots(negative, rows.filter(pl.col("negatives_fired")), "negatives")
        _dots(volume, rows.filter(pl.col("volume_fired")), "volume")
    judged = rows.filter(pl.col("judged"))
    share.fill_between(_times(judged), judged["baseline"].to_numpy(),
                       judged["band_high"].to_numpy(), color="#bcccdc", alpha=0.7, lw=0)
    share.plot(x, rows["negative_share"].to_numpy(), ".", color="#52606d", ms=2)
    if "share_fired" in rows.columns:
        _dots(share, rows.filter(pl.col("share_fired")), "negative_share")
    share.set_ylim(0, 1)
    for axis, name in ((volume, "mentions"), (negative, "negative mentions"),
                       (share, "negative share")):
        axis.set_title(name, fontsize=8, loc="left")
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.2)
        locator = AutoDateLocator(maxticks=5)  # type: ignore[no-untyped-call]
        axis.xaxis.set_major_locator(locator)
        axis.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        for alert in alerts:
            axis.axvspan(alert.window_start, alert.window_end, color="#e53935", alpha=0.2, lw=0)
    # Fixed margins: tight_layout measured every tick label again (a third of the chart's time).
    fig.subplots_adjust(left=0.03, right=0.99, bottom=0.24, top=0.88, wspace=0.12)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=74)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _dots(axis: Any, fired: pl.DataFrame, column: str) -> None:
    if fired.height:
        axis.plot(_times(fired), fired[column].to_numpy(), "o",
                  color="#c62828", ms=4)


def _times(rows: pl.DataFrame) -> Any:
    """Window starts as numpy datetime64 (UTC): matplotlib converts them in one step, a list
    of Python datetimes one by one."""
    return rows["window_start"].dt.replace_time_zone(None).to_numpy()
