"""The risk report: a self-contained HTML page (``page``, with ``charts``) and the markdown
summary a monitoring run publishes as a Prefect artifact (``summary``)."""

from flows.report.page import render_report
from flows.report.summary import AlertView, report_markdown

__all__ = ["AlertView", "render_report", "report_markdown"]
