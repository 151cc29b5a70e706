"""structlog configuration and the request-log middleware.

JSON lines on standard output (console renderer on a TTY), one canonical line per request with
``request_id``, method, route template, status and duration. Request bodies, headers, tokens,
secrets and NIRs are never logged: the middleware only ever sees the ASGI scope and the
response status. Nor is row data: PostgreSQL's errors carry the refused row in their
``detail`` (``Failing row contains (…)``), stripped from every logged exception
(:func:`strip_row_data`).

The middleware also sets the headers every answer carries: ``X-Content-Type-Options:
nosniff`` everywhere, and ``Cache-Control: no-store`` on ``/v1`` (personal data) and on
problems, unless the handler chose its own.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO, cast

import asyncpg
import msgspec
import structlog
from structlog.contextvars import bind_contextvars

from cpa.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID_MAX_CHARS = 64


FLUSH_INTERVAL_S = 0.2
FLUSH_BUFFER_BYTES = 64 * 1024


class BufferedBytesLogger:
    """Writes JSON lines to a binary stream.

    Only the loop that serves requests buffers: there, lines are flushed at most every 0.2 s
    (a write system call per request measured at tens of microseconds on these machines), so
    at most 0.2 s of lines can be lost if the process is killed. That loop is the one the
    request log runs on (:meth:`msg_request` marks it). Every other line is written at once,
    after whatever is pending, so lines stay in order: outside an event loop, and on a loop
    that only runs a command (``asyncio.run`` of the migrations, the demo loader), which may
    end before a flush it scheduled would run; and warnings and errors everywhere."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._serving_loop: asyncio.AbstractEventLoop | None = None
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        """The loop a flush is scheduled on (None: none is)."""

    def msg(self, message: bytes) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or loop is not self._serving_loop:
            self.msg_now(message)
            return
        self._buffer(message, loop)

    def msg_request(self, message: bytes) -> None:
        """The request line, from the request log: its loop is the serving loop."""
        loop = asyncio.get_running_loop()
        self._serving_loop = loop
        self._buffer(message, loop)

    def msg_now(self, message: bytes) -> None:
        self._pending.append(message + b"\n")
        self.flush()

    info = debug = msg
    warning = error = critical = exception = fatal = msg_now

    def _buffer(self, message: bytes, loop: asyncio.AbstractEventLoop) -> None:
        self._pending.append(message + b"\n")
        self._pending_bytes += len(message) + 1
        if self._pending_bytes >= FLUSH_BUFFER_BYTES:
            self.flush()
        elif self._flush_loop is not loop:
            self._flush_loop = loop
            loop.call_later(FLUSH_INTERVAL_S, self.flush)

    def flush(self) -> None:
        self._flush_loop = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._pending_bytes = 0
        self._stream.write(b"".join(pending))
        self._stream.flush()


_BIND_ERROR = "invalid input for query argument"
_CHAIN_DEPTH_MAX = 16


def _strip(error: BaseException) -> None:
    if isinstance(error, asyncpg.PostgresError):
        # ``detail`` (and the hint or query context) may quote the row; str() prints them.
        for name in ("detail", "hint", "context", "internal_query"):
            if getattr(error, name, None):
                setattr(error, name, None)
        message = str(error.args[0]) if error.args else ""
        if message.startswith(_BIND_ERROR):  # "… $1: <the value> (why)": keep $1 and why
            error.args = (message.split(":", 1)[0] + ": " + message.rsplit("(", 1)[-1],)


def strip_row_data(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: no row data from a logged exception (or its causes)."""
    exc_info = event.get("exc_info")
    error = exc_info if isinstance(exc_info, BaseException) else None
    if exc_info is True or isinstance(exc_info, tuple):
        error = (sys.exc_info() if exc_info is True else exc_info)[1]
    for _depth in range(_CHAIN_DEPTH_MAX):
        if error is None:
            break
        _strip(error)
        error = error.__cause__ or error.__context__
    return event


def _dumps(event: dict[str, Any], **_: Any) -> bytes:
    # msgspec is several times faster than json.dumps; unknown values are logged as str().
    return msgspec.json.encode(event, enc_hook=str)


_access_log: Any = None
_buffered: dict[int, BufferedBytesLogger] = {}


def _buffered_logger(stream: Any) -> BufferedBytesLogger:
    """One buffer per stream, shared by every logger writing to it (lines stay ordered)."""
    logger = _buffered.get(id(stream))
    if logger is None:
        logger = _buffered[id(stream)] = BufferedBytesLogger(stream)
        atexit.register(logger.flush)
    return logger


def configure_logging(log_format: str = "auto", stream: TextIO | None = None) -> None:
    """Configure structlog once per process; ``log_format`` is json, console or auto."""
    global _access_log
    stream = stream or sys.stdout
    console = log_format == "console" or (log_format == "auto" and stream.isatty())
    _access_log = None
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        strip_row_data,
    ]
    if console:
        structlog.configure(
            processors=[*shared, structlog.dev.ConsoleRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.PrintLoggerFactory(stream),
            cache_logger_on_first_use=True,
        )
        return
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=lambda *_: _buffered_logger(stream.buffer),
        cache_logger_on_first_use=True,
    )


def _render_access_line(_: Any, method: str, event: dict[str, Any]) -> bytes:
    """Level, time and JSON in one step: the access line is the hottest log call."""
    event["level"] = method
    event["timestamp"] = dt.datetime.now(dt.UTC).isoformat()[:-6] + "Z"  # as TimeStamper
    return _dumps(event)


def access_logger() -> Callable[..., None]:
    """Logs one request line. With JSON output the line is rendered by one processor and
    handed straight to the configured output — structlog's bound-logger machinery and the
    context-variable merge (which copies the whole context) measured 40 % of a liveness
    probe's cost. On a console, the configured structlog pipeline is used as is."""
    global _access_log
    if _access_log is None:
        config = structlog.get_config()
        output = config["logger_factory"]()
        if isinstance(output, BufferedBytesLogger):

            def log_json(**fields: Any) -> None:
                output.msg_request(_render_access_line(None, "info", fields))

            _access_log = log_json
        else:
            _access_log = structlog.get_logger("cpa.request").info
    return cast(Callable[..., None], _access_log)


_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")
_PERSONAL_PREFIX = "/v1/"
_PROBLEM = b"application/problem+json"


def _protect(path: str, headers: list[tuple[bytes, bytes]]) -> None:
    """nosniff on every answer; no-store on personal data and problems (unless set)."""
    headers.append(_NOSNIFF)
    no_store = path.startswith(_PERSONAL_PREFIX)
    for name, value in headers:
        if name.lower() == b"cache-control":
            return
        if not no_store and name.lower() == b"content-type":
            no_store = bytes(value).startswith(_PROBLEM)
    if no_store:
        headers.append(_NO_STORE)


def _request_id(scope: Scope) -> str:
    """Reuse a caller's short, printable request id; make one otherwise."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and 0 < len(value) <= _REQUEST_ID_MAX_CHARS:
            text: str = bytes(value).decode("latin-1")
            if text.isprintable() and text.isascii():
                return text
    return os.urandom(8).hex()


class RequestLogMiddleware:
    """Outermost ASGI wrapper: binds the request id, answers it, logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        # Each request runs in its own task with a copy of the context: nothing to clear.
        bind_contextvars(request_id=request_id)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                _protect(scope["path"], headers)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_logger()(
                event="request_finished",
                request_id=request_id,
                method=scope["method"],
                route=scope.get("path_template") or "<unmatched>",
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                client_id=scope.get("state", {}).get("client_id"),
            )
