"""The alert report a risk analyst reads: one self-contained HTML page.

The page needs no network: CSS is inline and charts are PNGs (matplotlib, Agg backend) embedded
as base64. It opens with the alerts, most severe first, each linking to its own section; then a
trend row for **every** monitored entity (mentions, negative mentions with the band they would
alert above, negative share), so a quiet entity is seen to be quiet; then each alerted entity:
its detailed chart, and per alert why it fired, what changed, the topics of its window against
the usual, and the evidence.
"""

from __future__ import annotations

import hashlib
import html
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from flows.report.cache import ChartCache
from flows.report.charts import chart_png, trend_png
from flows.report.evidence import evidence_html
from flows.report.summary import AlertView, span, when

log = logging.getLogger(__name__)

Evidence = Mapping[str, Sequence[Mapping[str, Any]]]  # dedup_key -> documents
Breakdowns = Mapping[str, Sequence[Mapping[str, Any]]]  # dedup_key -> topics of its window

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1f2933;
margin:24px auto;max-width:1160px;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 6px;border-top:1px solid
#d9e2ec;padding-top:16px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:#52606d}.note{background:#f5f7fa;border-left:4px solid #9fb3c8;padding:8px 12px;
margin:12px 0;color:#334e68;font-size:14px}
table{border-collapse:collapse;width:100%;font-size:14px;margin:8px 0}
th,td{padding:6px 8px;border-bottom:1px solid #e4e7eb;text-align:left;vertical-align:top}
th{background:#f0f4f8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.sev{display:inline-block;min-width:34px;text-align:center;border-radius:4px;color:#fff;
font-weight:700;padding:1px 6px}.high{background:#c62828}.mid{background:#ef6c00}
.low{background:#9e9d24}img{max-width:100%;border:1px solid #e4e7eb}
.doc{border:1px solid #e4e7eb;border-radius:6px;padding:8px 10px;margin:6px 0}
.doc .head{color:#52606d;font-size:13px;margin-bottom:4px}
mark{color:inherit;border-radius:3px;padding:0 2px}
.chips span{display:inline-block;border-radius:3px;padding:0 5px;margin:2px 4px 0 0;
font-size:13px}.empty{font-size:18px;margin:40px 0;color:#334e68}
.trend h3{margin:10px 0 2px}.why{font-size:15px}.backfill{color:#52606d;font-style:italic}
"""
READING = (
    "<b>How to read this.</b> Every count is of new stories: retweets and copies of a text "
    "count once. An alert fires when, for its entity, the <b>negative mentions</b> or all "
    "<b>mentions</b> of a window are well above the usual for that hour and weekday (learnt "
    "from the previous four weeks; the grey band rises from the usual to the alert line), or "
    "when the <b>negative share</b> rises above its recent baseline. Its reason names every "
    "signal that fired. <b>Severity</b> 0-100 grows with how far over the line the surge went "
    "and how many documents it rests on. <b>Backfill</b> alerts were found in windows older "
    "than the alert horizon: history, not news. Shaded words in the evidence are those that "
    "pushed the sentiment model toward negative most (integrated gradients), or, where that "
    "model is no longer at hand, those it weighed most.")


def _severity_badge(value: int) -> str:
    grade = "high" if value >= 70 else "mid" if value >= 40 else "low"
    return f'<span class="sev {grade}">{value}</span>'


def anchor(alert: AlertView) -> str:
    """The id of an alert's section: stable for its episode."""
    return "alert-" + hashlib.sha1(alert.dedup_key.encode()).hexdigest()[:10]


def _entity_series(series: pl.DataFrame, entity: str, topic: str | None) -> pl.DataFrame:
    rows = series.filter(pl.col("entity") == entity)
    if "topic" in rows.columns:
        rows = rows.filter(pl.col("topic").is_null() if topic is None else
                           pl.col("topic") == topic)
    return rows.sort("window_start")


def _why(alert: AlertView) -> str:
    reason = getattr(alert, "reason", "") or \
        f"negative share {alert.observed:.0%} vs {alert.baseline:.0%}"
    return html.escape(reason)


def _status(alert: AlertView) -> str:
    backfill = ' <span class="backfill">(backfill)</span>' if getattr(alert, "backfill",
                                                                     False) else ""
    return html.escape(alert.status) + backfill


def _table(alerts: Sequence[AlertView]) -> str:
    head = ("<tr><th>Severity</th><th>Entity</th><th>Topic</th><th>Window</th><th>Why</th>"
            "<th>Model version</th><th>Status</th></tr>")
    rows = [
        f"<tr><td>{_severity_badge(a.severity)}</td>"
        f'<td><a href="#{anchor(a)}">{html.escape(a.entity)}</a></td>'
        f"<td>{html.escape(a.topic or 'all topics')}</td>"
        f"<td>{span(a.window_start, a.window_end)}</td><td>{_why(a)}</td>"
        f"<td>{'-' if a.model_version_id is None else a.model_version_id}</td>"
        f"<td>{_status(a)}</td></tr>" for a in alerts]
    return f"<table>{head}{''.join(rows)}</table>"


def _changes(alert: AlertView, breakdown: Sequence[Mapping[str, Any]]) -> str:
    """What changed: over-represented words, and the window's topics against the usual."""
    parts = []
    terms = getattr(alert, "terms", [])
    if terms:
        listed = ", ".join(f"<b>{html.escape(t['term'])}</b> ({t['window_count']} vs "
                           f"{t['baseline_count']} before)" for t in terms)
        parts.append(f"<p>What changed: {listed}.</p>")
    if breakdown:
        rows = "".join(
            f"<tr><td>{html.escape(str(t['topic']))}</td><td class=num>{t['window']}</td>"
            f"<td class=num>{t['window_negative_share']:.0%}</td>"
            f"<td class=num>{t['window_share']:.0%}</td>"
            f"<td class=num>{t['baseline_share']:.0%}</td></tr>" for t in breakdown)
        parts.append("<table><tr><th>Topic</th><th>Documents</th><th>Negative</th>"
                     "<th>Share of the window</th><th>Usual share</th></tr>"
                     f"{rows}</table>")
    return "".join(parts)


def _period(series: pl.DataFrame) -> str:
    if series.is_empty():
        return "no documents in this period"
    return span(series["window_start"].min(), series["window_end"].max())  # type: ignore[arg-type]


def _trends(series: pl.DataFrame, alerts: Sequence[AlertView], charts: ChartCache
            ) -> list[str]:
    """A trend row per monitored entity: alerted entities first, then by volume."""
    if series.is_empty():
        return []
    whole = series.filter(pl.col("topic").is_null()) if "topic" in series.columns else series
    totals = whole.group_by("entity").agg(pl.col("volume").sum()).to_dicts()
    alerted = {a.entity for a in alerts}
    order = sorted(totals, key=lambda t: (t["entity"] not in alerted, -t["volume"],
                                          t["entity"]))
    body = ["<h2>Every monitored entity</h2>"]
    for total in order:
        entity = total["entity"]
        rows = _entity_series(whole, entity, None)
        mine = [a for a in alerts if a.entity == entity]
        links = " ".join(f'<a href="#{anchor(a)}">alert, severity {a.severity}</a>'
                         for a in mine)
        body.append(f'<div class="trend"><h3>{html.escape(entity)} <span class="meta">'
                    f'{total["volume"]:,} mentions {links}</span></h3><img alt="trend of '
                    f'{html.escape(entity)}" src="data:image/png;base64,'
                    f'{charts.png("trend", rows, mine, trend_png)}"></div>')
    return body


def render_report(alerts: Sequence[AlertView], series: pl.DataFrame, evidence: Evidence,
                  out_path: Path, *, breakdowns: Breakdowns | None = None,
                  title: str = "sentrec: negative sentiment alerts",
                  generated_at: datetime | None = None, charts: ChartCache | None = None
                  ) -> Path:
    """Write the report; ``series`` is ``Detection.series`` (or ``aggregate_windows`` output);
    ``breakdowns`` are each alert's topics (``domain.episodes.topic_breakdown``); ``charts``
    reuses charts drawn for the same input before (every chart is drawn without it)."""
    charts = charts or ChartCache(None)
    generated = (generated_at or datetime.now(UTC)).astimezone(UTC)
    ranked = sorted(alerts, key=lambda a: (-a.severity, a.entity, a.window_start))
    entities = series["entity"].n_unique() if not series.is_empty() else 0
    body = [f"<h1>{html.escape(title)}</h1>",
            f'<p class="meta">Period {_period(series)} · {entities} entities monitored · '
            f"generated {when(generated)} UTC</p>"]
    if not ranked:
        body.append('<p class="empty">No alerts in this period: no entity\'s mentions, '
                    "negative mentions or negative share rose above their usual range.</p>")
    else:
        alerted = {a.entity for a in ranked}
        body += [f"<p><b>{len(ranked)} alert{'s' if len(ranked) > 1 else ''}</b> for "
                 f"{len(alerted)} entit{'ies' if len(alerted) > 1 else 'y'}, most severe "
                 f"first.</p>", f'<div class="note">{READING}</div>', _table(ranked)]
    body += _trends(series, ranked, charts)
    groups: dict[tuple[str, str | None], list[AlertView]] = {}
    for alert in ranked:
        groups.setdefault((alert.entity, alert.topic), []).append(alert)
    for (entity, topic), group in groups.items():
        label = entity if topic is None else f"{entity} · {topic}"
        body.append(f"<h2>{html.escape(label)}</h2>")
        rows = _entity_series(series, entity, topic)
        if rows.height:
            body.append(f'<img alt="negative share, mean score and volume of '
                        f'{html.escape(label)}" src="data:image/png;base64,'
                        f'{charts.png("detail", rows, group, chart_png)}">')
        for alert in sorted(group, key=lambda a: a.window_start):
            body.append(f'<h3 id="{anchor(alert)}">{span(alert.window_start, alert.window_end)}'
                        f" · severity {alert.severity} · {_status(alert)}</h3>"
                        f'<p class="why">{_why(alert)}</p>')
            body.append(_changes(alert, (breakdowns or {}).get(alert.dedup_key, [])))
            body.append(evidence_html(evidence.get(alert.dedup_key, [])))
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    pruned = charts.prune()
    log.info("report %s: %d charts drawn, %d reused, %d stale charts pruned", out_path,
             charts.drawn, charts.reused, pruned)
    return out_path
