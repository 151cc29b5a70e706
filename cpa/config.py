"""Settings: one Struct read from the ``CPA_*`` environment variables, once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import msgspec


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every knob of the service, with its unit in the name and a safe default."""

    database_url: str | None = None
    """``CPA_DATABASE_URL``: an existing PostgreSQL; when unset we run our own embedded one."""
    host: str = "127.0.0.1"
    """Address the API listens on (loopback: put a reverse proxy in front, README)."""
    port: int = 8000
    """Port the API listens on."""
    data_dir: Path = Path(".cpa")
    """Our own directory: embedded PostgreSQL data, binaries cache, local secrets."""
    pg_port: int = 54329
    """TCP port of the embedded PostgreSQL (127.0.0.1 only)."""
    pool_size_min: int = 2
    """Connections each worker opens to PostgreSQL at start."""
    pool_size_max: int = 10
    """Connections each worker holds at most (workers × this ≤ PostgreSQL's max_connections)."""
    statement_timeout_ms: int = 5_000
    """PostgreSQL cancels a statement running longer (``statement_timeout``): a 503."""
    pool_acquire_timeout_ms: int = 2_000
    """Longest wait for a pooled connection (all busy, or a new one being made): then 503."""
    connect_timeout_ms: int = 2_000
    """Longest wait to open one connection to PostgreSQL."""
    command_timeout_ms: int = 6_000
    """Longest wait for one statement's answer on our side of the socket (a connection lost
    without a word); the server's own ``statement_timeout_ms`` fires first."""
    body_size_max_bytes: int = 1_048_576
    """Largest request body accepted (1 MiB): a larger one is a 413 problem."""
    workers: int = 1
    """Server worker processes (one per core is a good start)."""
    http_header_read_timeout_ms: int = 10_000
    """Time a client has to send a request head, the first one and each next one on a kept-alive
    connection (an idle socket is closed after it); granian's default is 30 s."""
    http_connections_per_worker_max: int = 4_096
    """Connections a worker holds at once (granian's backpressure; its default is backlog /
    workers = 512); bounded by the open-files limit, raised to its hard limit at start."""
    http_backlog: int = 4_096
    """Connections the kernel queues before a worker accepts them (capped by net.core.somaxconn)."""
    trusted_proxies: str = ""
    """Addresses or networks of the reverse proxies in front (comma-separated, e.g.
    ``127.0.0.1`` or ``10.0.0.0/8``): only from them is ``X-Forwarded-For`` believed for the
    caller's address (limits per address, logs). Empty: the TCP peer is the caller."""
    log_format: str = "auto"
    """``json``, ``console`` or ``auto`` (console on a TTY, JSON otherwise)."""
    issuer: str = "http://127.0.0.1:8000"
    """The authorization server's public URL (tokens' ``iss``, metadata): the address partners
    reach, through the reverse proxy."""
    nir_key_file: Path | None = None
    """32-byte key (hex) encrypting NIRs at rest; default ``<data_dir>/nir.key``, created once."""
    webhook_poll_ms: int = 1_000
    """How often each process turns new events into deliveries and sends the due ones."""
    webhook_attempt_timeout_ms: int = 10_000
    """Longest wait for an endpoint's answer to one delivery (connect to status line)."""
    webhook_backoff_first_ms: int = 5_000
    """Wait after a first failed attempt; each next wait doubles (with jitter)."""
    webhook_backoff_max_ms: int = 3_600_000
    """Longest wait between two attempts of one delivery."""
    webhook_failures_max: int = 20
    """Failed attempts of one delivery in a row, none accepted meanwhile, after which its
    subscription is disabled (about eight hours with the defaults above)."""

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def nir_key_path(self) -> Path:
        return self.nir_key_file or self.data_dir / "nir.key"


def environ_values(
    prefix: str, struct: type[msgspec.Struct], environ: Mapping[str, str] | None = None
) -> dict[str, object]:
    """The ``<prefix><FIELD>`` variables set for ``struct``'s fields (unset or empty ones
    left out): integers and booleans (``1``, ``true``, ``yes``) parsed, the rest as text."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for field in msgspec.structs.fields(struct):
        value = env.get(prefix + field.name.upper())
        if not value:
            continue
        if field.type is bool:
            raw[field.name] = value.lower() in ("1", "true", "yes")
        else:
            raw[field.name] = int(value) if field.type is int else value
    return raw


def from_environ(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from ``CPA_<FIELD>`` variables; unknown ``CPA_*`` names are ignored."""
    raw = environ_values("CPA_", Settings, environ)
    settings = msgspec.convert(raw, Settings, strict=False, dec_hook=_decode_path)
    if "issuer" not in raw:
        settings = msgspec.structs.replace(
            settings, issuer=f"http://{settings.host}:{settings.port}"
        )
    return settings


def _decode_path(type_: type, obj: object) -> object:
    if type_ is Path and isinstance(obj, str):
        return Path(obj)
    raise NotImplementedError


@cache
def get_settings() -> Settings:
    return from_environ()
