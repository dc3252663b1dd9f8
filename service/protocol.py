"""uvicorn's httptools protocol with the request head bounded, as h11 bounds it.

httptools (llhttp) sets no limit on a request line or headers, and its Python binding joins the
pieces of a header with bytes concatenation as they arrive: a 100 MB header costs quadratic
copying on the event loop, and three of them stalled every other client of a worker for 30 s.
uvicorn's h11 protocol has ``h11_max_incomplete_event_size`` for this; its httptools protocol,
which the service uses for speed, has nothing. This subclass counts the bytes of each request
head as it feeds them to the parser and never feeds more than the limit: a head that has not
ended by then gets 431 and the connection is closed, a request target past its own limit gets
414, and the parser never holds more than the limit (twice it with pipelined requests).
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger(__name__)

# h11's DEFAULT_MAX_INCOMPLETE_EVENT_SIZE: request line and headers, 16 KiB in all.
MAX_HEAD_BYTES = 16 * 1024
# RFC 9112 section 3 asks servers to accept request lines of at least 8000 octets.
MAX_TARGET_BYTES = 8 * 1024


class _RefusedError(Exception):
    """Raised inside a parser callback to stop parsing a request that is being refused."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses request heads over ``MAX_HEAD_BYTES`` (431) and
    request targets over ``MAX_TARGET_BYTES`` (414) without reading the rest of them.

    ``sentrec serve`` passes it to uvicorn as ``http=``; the per-request cost is a few integer
    operations per read from the socket.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Bytes of the current request head fed to the parser so far; None while a body is
        # read (the head has ended). A new head starts when a message completes.
        self._head_bytes: int | None = 0
        self._refusal: tuple[int, str] | None = None

    def data_received(self, data: bytes) -> None:
        while data:
            if self._head_bytes is None:
                chunk, data = data, b""
            else:
                room = MAX_HEAD_BYTES - self._head_bytes
                chunk, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
                self._head_bytes += len(chunk)
            super().data_received(chunk)
            if self.transport.is_closing():
                return
            if self._head_bytes is not None and self._head_bytes >= MAX_HEAD_BYTES:
                # The limit was fed and the head has not ended: it is longer than allowed.
                if len(getattr(self, "url", b"")) > MAX_TARGET_BYTES:
                    self._refuse(414, f"request target longer than {MAX_TARGET_BYTES} bytes")
                else:
                    self._refuse(431, f"request header fields longer than {MAX_HEAD_BYTES} "
                                 "bytes in all")
                return

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_TARGET_BYTES:
            self._refusal = (414, f"request target longer than {MAX_TARGET_BYTES} bytes")
            raise _RefusedError

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        """uvicorn answers a parser error with 400; a refusal raised in a callback is one."""
        if self._refusal is not None:
            self._refuse(*self._refusal)
        else:
            super().send_400_response(msg)

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` with ``message`` and close, as uvicorn answers a bad request."""
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.warning("refused a request from %s with %d: %s", client, status, message)
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        body = message.encode("ascii")
        content.extend([b"content-type: text/plain; charset=utf-8\r\n",
                        b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                        b"connection: close\r\n", b"\r\n", body])
        self.transport.write(b"".join(content))
        self.transport.close()

