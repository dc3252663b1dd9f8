"""The HTML report: self-contained, shows alerts with charts and highlighted evidence, and says
plainly when there is nothing to report."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from domain.episodes import detect_alerts, topic_breakdown
from domain.windows import SCORED_SCHEMA
from flows.report import render_report, report_markdown
from flows.report.cache import ChartCache
from flows.report.evidence import highlight_text

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def scored_docs() -> pl.DataFrame:
    """A calm day of 10 documents an hour, then an hour of angry outage complaints."""
    rows: list[dict[str, Any]] = []

    def add(doc_id: int, when: datetime, text: str, negative: bool, highlights: Any) -> None:
        p_neg = 0.9 if negative else 0.1
        rows.append({"doc_kind": "message", "doc_id": doc_id, "entity": "Acme Air",
                     "topic": None, "created_at": when, "score": 0.8 - 2 * p_neg,
                     "p_negative": p_neg, "p_neutral": 0.1, "p_positive": 0.9 - p_neg,
                     "text": text, "highlights": json.dumps(highlights)})

    for hour in range(30):
        for i in range(10):
            add(hour * 10 + i, T0 + timedelta(hours=hour, minutes=i),
                f"flight {hour}-{i} was fine, see http://example.com/x", i < 3, [["fine", 0.3]])
    for i in range(12):
        add(1000 + i, T0 + timedelta(hours=30, minutes=i),
            f"Outage #{i}: the app & website are DOWN, refund me <now>",
            True, [["down", 0.55], ["refund", 0.25], ["outage", 0.1]])
    return pl.DataFrame(rows, schema=SCORED_SCHEMA)


def render(tmp_path: Path, with_alerts: bool) -> str:
    detection = detect_alerts(scored_docs(), model_version_id=4)
    alerts = detection.alerts if with_alerts else []
    evidence = {a.dedup_key: a.evidence for a in alerts}
    out = render_report(alerts, detection.series, evidence, tmp_path / "r" / "report.html",
                        generated_at=T0 + timedelta(days=2))
    return out.read_text(encoding="utf-8")


def external_references(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", page, flags=re.I)


def test_report_shows_the_alert_its_chart_and_highlighted_evidence(tmp_path: Path) -> None:
    page = render(tmp_path, with_alerts=True)
    assert "1 alert</b> for 1 entity" in page
    assert "2024-05-02 06:00 – 07:00 UTC" in page
    # The table says why, and links to the alert's own section.
    link = re.search(r'<a href="#(alert-[0-9a-f]{10})">Acme Air</a></td><td>all topics</td>'
                     r'<td>2024-05-02 06:00 – 07:00 UTC</td><td>negative share 100% vs 30%'
                     r'</td><td>4</td><td>open</td>', page)
    assert link and f'<h3 id="{link.group(1)}">' in page
    # One trend row for the entity, one detailed chart for its alert.
    assert page.count('src="data:image/png;base64,') == 2
    assert '<img alt="trend of Acme Air"' in page
    assert "What changed: <b>app</b> (12 vs 0 before), <b>down</b> (12 vs 0 before)" in page
    assert re.search(r'<mark style="background:rgba\(229,57,53,0\.85\)" '
                     r'title="weight 0\.550">DOWN</mark>', page)
    assert ">refund</mark>" in page and "refund 0.25" in page
    # Text is escaped exactly once: no injected tags, and "&" shows as "&".
    assert "&lt;now&gt;" in page and "<now>" not in page and "&amp;amp;" not in page
    assert external_references(page) == []
    assert "No alerts in this period" not in page


def test_report_without_alerts_says_so_plainly(tmp_path: Path) -> None:
    page = render(tmp_path, with_alerts=False)
    assert "No alerts in this period" in page
    assert "1 entities monitored" in page
    # A quiet entity still shows its trend, so quiet is seen to be quiet.
    assert page.count('<img alt="trend of Acme Air"') == 1 and "<table" not in page
    assert external_references(page) == []


def test_report_of_an_empty_period_renders(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema={"entity": pl.String, "window_start": pl.Datetime("us", "UTC")})
    out = render_report([], empty, {}, tmp_path / "empty.html")
    assert "no documents in this period" in out.read_text()


def test_highlighting_matches_words_case_insensitively_and_escapes() -> None:
    shaded = highlight_text("Late <b>again</b>", [["late", 0.4], ["again", 0.1]])
    assert shaded == ('<mark style="background:rgba(229,57,53,0.85)" title="weight 0.400">'
                      'Late</mark> &lt;b&gt;<mark style="background:rgba(229,57,53,0.32)" '
                      'title="weight 0.100">again</mark>&lt;/b&gt;')
    assert highlight_text("nothing here", [["late", 0.4]]) == "nothing here"


def test_placeholders_punctuation_and_function_words_are_never_shaded() -> None:
    weighed = [["[USER]", 0.9], ["the", 0.8], ["!", 0.7], ["not", 0.2], ["happy", 0.1]]
    shaded = highlight_text("[USER] the service is not happy !", weighed)
    assert re.findall(r">([^<]+)</mark>", shaded) == ["not", "happy"]


def test_every_monitored_entity_gets_a_trend_row_alerted_ones_first(tmp_path: Path) -> None:
    docs = scored_docs()
    quiet = docs.filter(pl.col("created_at") < T0 + timedelta(hours=30)).with_columns(
        pl.lit("Quiet Bank").alias("entity"), pl.col("doc_id") + 10_000,
        pl.lit(0.1).alias("p_negative"), pl.lit(0.8).alias("p_positive"))
    detection = detect_alerts(pl.concat([quiet, quiet.with_columns(
        pl.lit("Big Quiet Bank").alias("entity"), pl.col("doc_id") + 10_000)
        .pipe(lambda d: pl.concat([d, d.with_columns(pl.col("doc_id") + 50_000)])), docs]))
    out = render_report(detection.alerts, detection.series,
                        {a.dedup_key: a.evidence for a in detection.alerts},
                        tmp_path / "r.html")
    rows = re.findall(r'<img alt="trend of ([^"]+)"', out.read_text())
    # Acme Air alerted; the quiet ones follow by volume (Big Quiet Bank has twice the mentions).
    assert rows == ["Acme Air", "Big Quiet Bank", "Quiet Bank"]


def test_topic_breakdown_sets_the_window_beside_the_usual_mix(tmp_path: Path) -> None:
    docs = scored_docs().with_columns(
        pl.when(pl.col("doc_id") >= 1000).then(pl.lit("outage"))
        .when(pl.col("doc_id") % 2 == 0).then(pl.lit("outage")).otherwise(pl.lit("fares"))
        .alias("topic"))
    detection = detect_alerts(docs)
    [alert] = detection.alerts
    breakdown = topic_breakdown(detection.documents, alert)
    assert breakdown == [{"topic": "outage", "window": 12, "window_negative_share": 1.0,
                          "window_share": 1.0, "baseline_share": 0.5}]
    out = render_report(detection.alerts, detection.series, {}, tmp_path / "r.html",
                        breakdowns={alert.dedup_key: breakdown})
    assert ("<tr><td>outage</td><td class=num>12</td><td class=num>100%</td>"
            "<td class=num>100%</td><td class=num>50%</td></tr>") in out.read_text()


def test_markdown_summary_lists_alerts_or_says_none() -> None:
    detection = detect_alerts(scored_docs())
    text = report_markdown(detection.alerts)
    # severity 41 = 100 * min(1, (5.3 / 3.5) / 2) * sqrt(12 / 40): z 5.3 on 12 documents
    assert "| 41 | Acme Air | all | 2024-05-02 06:00 – 07:00 UTC | 100% vs 30% | 5.3 | 12 |" \
        in text
    assert "1 alert, most severe first." in text
    assert report_markdown([]) == "## Sentiment alerts\n\nNo alerts in this period.\n"


def three_entities() -> pl.DataFrame:
    """Acme Air's surge (one alert) beside two quiet banks."""
    docs = scored_docs()
    quiet = docs.filter(pl.col("created_at") < T0 + timedelta(hours=30)).with_columns(
        pl.lit("Quiet Bank").alias("entity"), pl.col("doc_id") + 10_000,
        pl.lit(0.1).alias("p_negative"), pl.lit(0.8).alias("p_positive"))
    other = quiet.with_columns(pl.lit("Other Bank").alias("entity"), pl.col("doc_id") + 10_000)
    return pl.concat([docs, quiet, other])


def cached_report(docs: pl.DataFrame, out: Path, charts: ChartCache) -> str:
    detection = detect_alerts(docs)
    render_report(detection.alerts, detection.series,
                  {a.dedup_key: a.evidence for a in detection.alerts}, out,
                  generated_at=T0 + timedelta(days=2), charts=charts)
    return out.read_text(encoding="utf-8")


def test_a_report_with_no_new_data_draws_no_chart(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    docs = three_entities()
    first = ChartCache(tmp_path / "charts")
    page = cached_report(docs, tmp_path / "a.html", first)
    # Three trend rows and Acme Air's detailed chart.
    assert (first.drawn, first.reused) == (4, 0)
    second = ChartCache(tmp_path / "charts")
    with caplog.at_level(logging.INFO, logger="flows.report.page"):
        again = cached_report(docs, tmp_path / "b.html", second)
    assert (second.drawn, second.reused) == (0, 4)
    assert again == page
    assert f"report {tmp_path / 'b.html'}: 0 charts drawn, 4 reused, 0 stale charts pruned" \
        in caplog.messages


def test_only_the_entity_whose_data_changed_is_drawn_again(tmp_path: Path) -> None:
    docs = three_entities()
    cached_report(docs, tmp_path / "a.html", ChartCache(tmp_path / "charts"))
    # Late documents for Quiet Bank, inside the period: only its trend changes.
    late = docs.filter((pl.col("entity") == "Quiet Bank") & (pl.col("doc_id") < 10_020)) \
        .with_columns(pl.col("doc_id") + 100_000, pl.col("created_at") + timedelta(seconds=30))
    charts = ChartCache(tmp_path / "charts")
    page = cached_report(pl.concat([docs, late]), tmp_path / "b.html", charts)
    assert (charts.drawn, charts.reused) == (1, 3)
    assert '<img alt="trend of Quiet Bank"' in page


def test_the_chart_store_keeps_the_most_recently_used(tmp_path: Path) -> None:
    docs = three_entities()
    cached_report(docs, tmp_path / "a.html", ChartCache(tmp_path / "charts", max_files=10))
    assert len(list((tmp_path / "charts").iterdir())) == 4
    bounded = ChartCache(tmp_path / "charts", max_files=3)
    cached_report(docs.filter(pl.col("entity") != "Other Bank"), tmp_path / "b.html", bounded)
    # Other Bank's trend was not used by the second report: it is the one pruned.
    assert (bounded.drawn, bounded.reused) == (0, 3)
    assert len(list((tmp_path / "charts").iterdir())) == 3
    kept = ChartCache(tmp_path / "charts")
    cached_report(docs, tmp_path / "c.html", kept)
    assert (kept.drawn, kept.reused) == (1, 3)


@pytest.mark.parametrize("judged", [True, False])
def test_a_chart_draws_when_every_window_or_none_was_judged(judged: bool) -> None:
    from flows.report.charts import chart_png

    series = detect_alerts(scored_docs(), model_version_id=4).series
    rows = series.with_columns(pl.lit(judged).alias("judged"))
    png = base64.b64decode(chart_png(rows, []))
    assert png.startswith(b"\x89PNG")
