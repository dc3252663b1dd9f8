"""Prometheus metrics of the lookup service (prometheus-client).

- ``sentrec_http_requests_total`` and ``sentrec_http_request_duration_seconds``: every request,
  labelled by method, route template (``/v1/users/{user_id}/recommendations``, never the ids
  themselves; ``unmatched`` for a path no route knows) and status;
- ``sentrec_active_set_id`` and ``sentrec_active_set_age_seconds``: the published set, read
  from the store when scraped (id 0 and no age while none is published);
- ``sentrec_item_index_loaded``: 1 when the worker holds the active recommender's item index,
  checked against its recorded checksum (it is loaded by the first similar-items request).

``/metrics`` needs no API key: Prometheus scrapers rarely send one, and it holds counts and
timings only, no customer data. With several uvicorn workers each is its own process, so
``sentrec serve`` gives them one folder in ``PROMETHEUS_MULTIPROC_DIR`` and prometheus-client's
multiprocess mode adds their counters and histograms up whichever worker answers the scrape
(https://prometheus.github.io/client_python/multiprocess/); the index gauge is reported per
live worker, with a ``pid`` label.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from storage.recsets import active_set

log = logging.getLogger(__name__)

UNMATCHED = "unmatched"
# A lookup takes about a millisecond (bench/results/service.md), so the buckets start well
# below prometheus-client's default first bucket of 5 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    """The metrics of one app; ``exposition`` is what ``/metrics`` answers."""

    def __init__(self, engine: Engine) -> None:
        # Read when the app is made: a worker started by ``sentrec serve --workers N`` has it.
        self._multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self._requests = Counter("sentrec_http_requests", "HTTP requests answered.", labels,
                                 registry=self.registry)
        self._latency = Histogram("sentrec_http_request_duration_seconds",
                                  "Time from a request reaching the app to the end of its "
                                  "answer.", labels, buckets=LATENCY_BUCKETS,
                                  registry=self.registry)
        self._index_loaded = Gauge("sentrec_item_index_loaded", "1 when this worker holds the "
                                   "active recommender's checked item index, else 0.",
                                   registry=self.registry, multiprocess_mode="liveall")
        self._published = PublishedSet(engine)
        self.registry.register(self._published)
        # The labelled series, looked up once each: ``labels()`` validates and locks on every
        # call. Bounded: methods x route templates x statuses.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        series = self._series.get((method, route, status))
        if series is None:
            series = (self._requests.labels(method, route, status),
                      self._latency.labels(method, route, status))
            self._series[(method, route, status)] = series
        series[0].inc()
        series[1].observe(seconds)

    def index_loaded(self, loaded: bool) -> None:
        self._index_loaded.set(1 if loaded else 0)

    def exposition(self) -> bytes:
        """The Prometheus text format: this process's metrics, or every worker's."""
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        registry.register(self._published)
        return generate_latest(registry)


class PublishedSet(Collector):
    """The active recommendation set's id and age, read from the store at scrape time (so the
    age is current, and every worker reports the same)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        set_id, age = self._families()
        try:
            with self._engine.connect() as connection:
                active = active_set(connection=connection)
        except SQLAlchemyError as exc:
            log.warning("metrics: cannot read the active set: %s", type(exc).__name__)
            return
        set_id.add_metric([], active.id if active else 0)
        yield set_id
        if active is not None:
            age.add_metric([], (datetime.now(UTC) - active.activated_at).total_seconds())
            yield age

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (GaugeMetricFamily("sentrec_active_set_id", "Id of the active recommendation "
                                  "set; 0 while none is published."),
                GaugeMetricFamily("sentrec_active_set_age_seconds", "Seconds since the active "
                                  "recommendation set was activated."))
