"""The alert report a risk analyst reads: one self-contained HTML page, and a markdown summary.

The page needs no network: CSS is inline and charts are PNGs (matplotlib, Agg backend) embedded
as base64. Per alerted entity (and topic) it shows the negative share against its baseline band,
the mean score and the volume over time with the alert windows marked, then the evidence:
documents with the words the sentiment model attended to shaded by their weight.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from flows.report.charts import chart_png
from flows.report.summary import AlertView, span, when

Evidence = Mapping[str, Sequence[Mapping[str, Any]]]  # dedup_key -> documents

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
"""
READING = (
    "<b>How to read this.</b> Negative share = share of an entity's new documents (retweets "
    "and near-duplicates count once) whose most likely sentiment is negative. The dashed line "
    "is the entity's baseline (median of its preceding windows); the grey band rises from it "
    "to the alert line, and a red dot is a window above that line. <b>z</b> = how many "
    "spreads above baseline the window was; the default detector fires at z 3.5, or on a "
    "smaller rise that lasts several windows (CUSUM), which is why some alerts show a lower "
    "z. <b>Severity</b> 0-100 grows with how far over the threshold the surge went and how "
    "many documents it rests on (25 = just over the line on little volume). Shaded words in "
    "the evidence are those the sentiment model weighed most.")


def _severity_badge(value: int) -> str:
    grade = "high" if value >= 70 else "mid" if value >= 40 else "low"
    return f'<span class="sev {grade}">{value}</span>'


def _entity_series(series: pl.DataFrame, entity: str, topic: str | None) -> pl.DataFrame:
    rows = series.filter(pl.col("entity") == entity)
    if "topic" in rows.columns:
        rows = rows.filter(pl.col("topic").is_null() if topic is None else
                           pl.col("topic") == topic)
    return rows.sort("window_start")


def highlight_text(text: str, highlights: Sequence[Sequence[Any]]) -> str:
    """The text as HTML with highlighted words shaded by weight (strongest = darkest)."""
    weights: dict[str, float] = {}
    for token, weight in highlights:
        key = str(token).lower().strip()
        weights[key] = max(weights.get(key, 0.0), float(weight))
    top = max(weights.values(), default=0.0) or 1.0
    parts = []
    # Tweets arrive with HTML entities ("&amp;"); show the characters, then escape once.
    for piece in re.split(r"(\w[\w']*)", html.unescape(text)):
        weight = weights.get(piece.lower())
        if weight is None or not piece:
            parts.append(html.escape(piece))
        else:
            alpha = 0.15 + 0.7 * weight / top
            parts.append(f'<mark style="background:rgba(229,57,53,{alpha:.2f})" '
                         f'title="attention {weight:.3f}">{html.escape(piece)}</mark>')
    return "".join(parts)


def _evidence_html(documents: Sequence[Mapping[str, Any]]) -> str:
    if not documents:
        return '<p class="meta">No documents kept as evidence for this alert.</p>'
    out = []
    for doc in documents:
        highlights = doc.get("highlights") or []
        top = max((float(w) for _, w in highlights), default=0.0) or 1.0
        chips = "".join(
            f'<span style="background:rgba(229,57,53,{0.15 + 0.7 * float(w) / top:.2f})">'
            f"{html.escape(str(t))} {float(w):.2f}</span>" for t, w in highlights)
        copy = "" if doc.get("novel", True) else " · repeat of an earlier text"
        out.append(
            f'<div class="doc"><div class="head">{_doc_time(doc.get("created_at"))}'
            f' · p(negative) {float(doc.get("p_negative", 0)):.2f}{copy}</div>'
            f'<div>{highlight_text(str(doc.get("text", "")), highlights)}</div>'
            + (f'<div class="chips meta">model attention: {chips}</div>' if chips else "")
            + "</div>")
    return "".join(out)


def _doc_time(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC).strftime(
            "%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return html.escape(str(value))


def _table(alerts: Sequence[AlertView]) -> str:
    head = ("<tr><th>Severity</th><th>Entity</th><th>Topic</th><th>Window</th>"
            "<th>Negative share<br>observed vs baseline</th><th>z</th><th>Volume</th>"
            "<th>Detector</th><th>Model version</th><th>Status</th></tr>")
    rows = [
        f"<tr><td>{_severity_badge(a.severity)}</td><td>{html.escape(a.entity)}</td>"
        f"<td>{html.escape(a.topic or 'all topics')}</td>"
        f"<td>{span(a.window_start, a.window_end)}</td>"
        f'<td class="num">{a.observed:.0%} vs {a.baseline:.0%}</td>'
        f'<td class="num">{a.z:.1f}</td><td class="num">{a.volume}</td>'
        f"<td>{html.escape(a.detector)}</td>"
        f"<td>{'-' if a.model_version_id is None else a.model_version_id}</td>"
        f"<td>{html.escape(a.status)}</td></tr>" for a in alerts]
    return f"<table>{head}{''.join(rows)}</table>"


def _period(series: pl.DataFrame) -> str:
    if series.is_empty():
        return "no documents in this period"
    return span(series["window_start"].min(), series["window_end"].max())  # type: ignore[arg-type]


def render_report(alerts: Sequence[AlertView], series: pl.DataFrame, evidence: Evidence,
                  out_path: Path, *, title: str = "sentrec: negative sentiment alerts",
                  generated_at: datetime | None = None) -> Path:
    """Write the report; ``series`` is ``Detection.series`` (or ``aggregate_windows`` output)."""
    generated = (generated_at or datetime.now(UTC)).astimezone(UTC)
    ranked = sorted(alerts, key=lambda a: (-a.severity, a.entity, a.window_start))
    entities = series["entity"].n_unique() if not series.is_empty() else 0
    body = [f"<h1>{html.escape(title)}</h1>",
            f'<p class="meta">Period {_period(series)} · {entities} entities monitored · '
            f"generated {when(generated)} UTC</p>"]
    if not ranked:
        body.append('<p class="empty">No alerts in this period: no entity\'s negative share '
                    "rose above its expected range.</p>")
    else:
        alerted = {a.entity for a in ranked}
        body += [f"<p><b>{len(ranked)} alert{'s' if len(ranked) > 1 else ''}</b> for "
                 f"{len(alerted)} entit{'ies' if len(alerted) > 1 else 'y'}, most severe "
                 f"first.</p>", f'<div class="note">{READING}</div>', _table(ranked)]
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
                            f'{chart_png(rows, group)}">')
            for alert in sorted(group, key=lambda a: a.window_start):
                body.append(f"<h3>Evidence, {span(alert.window_start, alert.window_end)}: "
                            f"{alert.observed:.0%} negative vs {alert.baseline:.0%} usual</h3>")
                body.append(_evidence_html(evidence.get(alert.dedup_key, [])))
    page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path
