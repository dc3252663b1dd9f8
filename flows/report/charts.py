"""The chart of one entity (and topic) in the risk report: negative share against its baseline
band, mean score and volume over time, alert windows shaded; a base64 PNG (matplotlib, Agg)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

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
    share.plot(x, judged["negative_share"].to_numpy(), "-o", color="#1f2933", lw=1, ms=2.5,
               label="negative share")
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
