"""The fuzzed server's world: a throwaway database with the demo persons in it, partners with
a rate limit the fuzzer cannot reach, a real ``python -m cpa serve``, and access tokens
obtained the way partners obtain them (login and consent form, code exchange with PKCE,
client credentials), never minted by hand.

Who acts for which operation is read from the app's own guard declarations
(:func:`cpa.auth.guard.requires` on each handler), so a new route gets a token without an edit
here.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec

from cpa.app import create_app
from cpa.auth import guard
from cpa.auth.clients import NewClient, register_client
from cpa.auth.principal import ClientKind
from cpa.auth.scopes import KIND_GRANT_TYPES, KIND_SCOPES, PERSON_SCOPES
from cpa.config import from_environ
from cpa.db.admin import create_database, drop_database, migrate_database, with_database
from cpa.db.embedded import EmbeddedPostgres
from cpa.demo import DEMO_PERSONS
from cpa.demo.auth import demo_password
from tests.auth import support
from tests.support.processes import PROJECT, cpa_env, free_port, run_cpa, start_server, wait_ready

PG_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
RATE_LIMIT_PER_MINUTE = 100_000_000  # the fuzzer must meet the code, not the partner quota
SERVER_STOP_TIMEOUT_S = 30
HTTP_TIMEOUT_S = 30.0

# Demo persons (cpa.demo), by index: whose account each role reads and writes. The night
# worker has C2P points to convert; the consents role has a person of its own because the
# fuzzer may revoke that role's own consent (then only that role's later calls get 401).
CITIZEN, HOLDER, CONSENTER = 2, 0, 1


# -- the database ------------------------------------------------------------------------


@contextmanager
def database() -> Iterator[str]:
    """A fresh, migrated database: in CPA_DATABASE_URL's server when set, else in an embedded
    PostgreSQL on a temporary directory and a free port. Dropped (or stopped) afterwards."""
    external = os.environ.get("CPA_DATABASE_URL")
    pg = None
    if external:
        server_dsn = with_database(external, "postgres")
    else:
        # A directory of its own right under /tmp (like the tests' server): the launcher
        # hands it to PostgreSQL's user, which could not traverse the private run directory.
        pg_dir = Path(tempfile.mkdtemp(prefix="cpa-fuzz-pg-"))
        pg = EmbeddedPostgres(
            pg_dir, free_port(), cache_dir=PROJECT / ".cpa" / "pgbin", settings=PG_SETTINGS
        )
        pg.ensure_running()
        server_dsn = pg.dsn()
    name = f"cpa_fuzz_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(create_database(server_dsn, name))
        dsn = with_database(server_dsn, name)
        asyncio.run(migrate_database(dsn))
        yield dsn
    finally:
        if pg is not None:
            pg.stop()
            shutil.rmtree(pg.data_dir, ignore_errors=True)
        else:
            asyncio.run(drop_database(server_dsn, name))


def load_demo(dsn: str, data_dir: Path) -> None:
    done = run_cpa("demo", env=cpa_env(database_url=dsn, data_dir=str(data_dir)))
    assert done.returncode == 0, done.stderr.decode()[-2000:]


# -- partners -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Partner:
    client_id: str
    secret: str
    kind: ClientKind

    @property
    def basic(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.client_id, self.secret)


PARTNERS: dict[str, ClientKind] = {
    "portal": "portal",
    "consents_portal": "portal",
    "training": "training_body",
    "advisor": "advisor_tool",
    "operator": "operator",
    "oauth": "training_body",  # authenticates the fuzzer's requests to the OAuth endpoints
}
CLIENT_AUTHENTICATED = ("postIntrospect", "postRevoke", "postPushedAuthorizationRequest")
"""OAuth endpoints that authenticate the client first (RFC 7009, 7662, 9126): given a real
client's Basic credentials, the fuzzed fields reach the code past that check. The token
endpoint is left without them: there the fuzzer plays a stranger, its form's ``client_id``
and ``client_secret`` fuzzed (the claimed-client path of issue 10's defect 4)."""


async def _register_partners(dsn: str) -> dict[str, Partner]:
    connection = await asyncpg.connect(dsn)
    try:
        partners = {}
        for name, kind in PARTNERS.items():
            creds = await register_client(
                connection,
                NewClient(
                    name=f"fuzz {name}",
                    kind=kind,
                    redirect_uris=[support.REDIRECT_URI]
                    if "authorization_code" in KIND_GRANT_TYPES[kind]
                    else [],
                    rate_limit_per_minute=RATE_LIMIT_PER_MINUTE,
                ),
            )
            partners[name] = Partner(str(creds["client_id"]), str(creds["client_secret"]), kind)
        return partners
    finally:
        await connection.close()


def register_partners(dsn: str) -> dict[str, Partner]:
    return asyncio.run(_register_partners(dsn))


# -- the server ---------------------------------------------------------------------------


@contextmanager
def server(
    dsn: str, data_dir: Path, log_path: Path, workers: int, token_lifetime_s: int
) -> Iterator[str]:
    """A real ``python -m cpa serve`` on ``dsn``, ready: its base URL. Stopped with SIGINT
    afterwards, its whole process group killed if it does not stop in time."""
    port = free_port()
    env = cpa_env(
        database_url=dsn,
        port=str(port),
        data_dir=str(data_dir),
        workers=str(workers),
        # Tokens must outlive the run: schemathesis cannot renew them half-way.
        auth_access_token_lifetime_s=str(token_lifetime_s),
    )
    process = start_server(env, log_path)
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(base_url)
        yield base_url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# -- tokens through the real flows ----------------------------------------------------------


def _code_token(base_url: str, partner: Partner, person: int, scope: str) -> str:
    """The citizen opens the partner's authorization URL, logs in and consents on the form;
    the partner exchanges the code (PKCE, client_secret_basic)."""
    verifier, challenge = support.pkce()
    url = support.authorize_url(partner.client_id, challenge, scope=scope)

    async def flow() -> str:
        async with httpx.AsyncClient(base_url=base_url, timeout=HTTP_TIMEOUT_S) as http:
            back = await support.login_and_consent(
                http, url, DEMO_PERSONS[person].nir, password=demo_password(person)
            )
            code = support.query_of(back.headers["location"])["code"]
            answer = await http.post(
                "/oauth/token",
                auth=partner.basic,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": support.REDIRECT_URI,
                    "code_verifier": verifier,
                },
            )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    return asyncio.run(flow())


def _machine_token(base_url: str, partner: Partner) -> str:
    answer = httpx.post(
        f"{base_url}/oauth/token",
        auth=partner.basic,
        data={"grant_type": "client_credentials"},
        timeout=HTTP_TIMEOUT_S,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def real_tokens(base_url: str, partners: dict[str, Partner]) -> dict[str, str]:
    """A bearer token per role, each from the flow its partner uses in production. The
    consents person also consents to the other partners, so that it has consents to list
    and revoke besides the one its own token rests on."""
    every = " ".join(s for s in KIND_SCOPES["portal"] if s in PERSON_SCOPES)  # code flow
    holder = " ".join(s for s in KIND_SCOPES["training_body"] if s in PERSON_SCOPES)
    tokens = {
        "citizen": _code_token(base_url, partners["portal"], CITIZEN, every),
        "training": _code_token(base_url, partners["training"], HOLDER, holder),
        "consents": _code_token(base_url, partners["consents_portal"], CONSENTER, every),
        "advisor": _machine_token(base_url, partners["advisor"]),
        "operator": _machine_token(base_url, partners["operator"]),
    }
    _code_token(base_url, partners["portal"], CONSENTER, every)
    _code_token(base_url, partners["training"], CONSENTER, holder)
    return tokens


# -- which role calls which operation --------------------------------------------------------

_ROLE_OF_KIND: dict[ClientKind, str] = {
    "training_body": "training",
    "advisor_tool": "advisor",
    "operator": "operator",
    "portal": "citizen",
}
CONSENTS_PREFIX = "/v1/me/consents"


def _handlers(data_dir: Path) -> Iterator[tuple[str, Any]]:
    """(path, handler) of every app route handler that has an operationId."""
    settings = msgspec.structs.replace(from_environ({}), data_dir=data_dir)
    for route in create_app(settings).routes:
        for handler in getattr(route, "route_handlers", []):
            if isinstance(handler.operation_id, str):
                yield route.path, handler


def roles_by_operation(data_dir: Path) -> dict[str, str | None]:
    """operationId → the role whose token it gets (None: no token), from each handler's
    ``requires(...)``: its single client kind when it names one, else the citizen's portal
    (which holds every person scope; person-less routes accept any partner)."""
    return {
        handler.operation_id: _role(path, guard._declared(handler))
        for path, handler in _handlers(data_dir)
    }


def body_types(data_dir: Path) -> dict[str, Any]:
    """operationId → the type its handler decodes the request body into (``data``)."""
    types = {}
    for _, handler in _handlers(data_dir):
        data = handler.parsed_fn_signature.parameters.get("data")
        if data is not None:
            types[handler.operation_id] = data.annotation
    return types


def _role(path: str, declared: dict[str, Any] | None) -> str | None:
    if declared is None:
        return None
    if path.startswith(CONSENTS_PREFIX):
        return "consents"
    kinds: tuple[ClientKind, ...] = declared["kinds"] or ("portal",)
    return _ROLE_OF_KIND[kinds[0]]
