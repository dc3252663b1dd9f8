"""One access-log line and one metrics observation per HTTP request (a plain ASGI middleware,
so it adds no thread hand-off or body buffering to the hot path).

The line is ``METHOD TARGET STATUS DURATION``, e.g.
``GET /v1/users/u1/recommendations?k=10 200 1.21 ms``. Headers are never logged, so the
``X-API-Key`` value cannot appear. The target is percent-decoded, redacted like any customer
text (an id shaped like an email becomes ``[EMAIL]``) and has control characters escaped, so a
crafted path cannot forge log lines.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.redaction import redact
from service.metrics import UNMATCHED, ServiceMetrics

log = logging.getLogger(__name__)


class ObserveRequests:
    """Time each request to the end of its answer, log it and count it."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app fails before it starts an answer

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            seconds = time.perf_counter() - started
            # The router leaves the matched route in the scope: its template is the label.
            route = getattr(scope.get("route"), "path", UNMATCHED)
            self.metrics.observe(scope["method"], route, status, seconds)
            if log.isEnabledFor(logging.INFO):
                log.info("%s %s %d %.2f ms", scope["method"], _target(scope), status,
                         seconds * 1000)


def _target(scope: Scope) -> str:
    target: str = scope["path"]
    if scope.get("query_string"):
        target += "?" + unquote_plus(scope["query_string"].decode("latin-1"))
    return redact(target).encode("unicode_escape").decode("ascii")
