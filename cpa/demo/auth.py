"""Demo partner access: one client of each kind and known passwords for the demo persons.

The secrets are fixed and printed on purpose (a demo needs credentials one can type); never
load this into a database that holds real persons. Loading twice changes nothing.
"""

from __future__ import annotations

import contextlib
from typing import Any

from cpa.auth.clients import NewClient, register_client
from cpa.auth.errors import ClientAlreadyRegistered
from cpa.auth.login import set_password
from cpa.auth.principal import ClientKind
from cpa.config import Settings
from cpa.db.database import Connection
from cpa.db.queries import sql
from cpa.demo.persons import DEMO_PERSONS
from cpa.errors import NotFound
from cpa.persons import NirVault, find_person_by_nir

DEMO_CLIENT_PREFIX = "demo-"
"""Every demo client's id starts with it; a later start re-points these clients only."""
DEMO_CALLBACK_PATH = "/demo/callback"
"""The demo partner page's redirect URI, under the server's own address (cpa.demo.partner)."""
DEMO_PAGE_PATH = "/demo/"


def demo_redirect_uri(settings: Settings) -> str:
    """The demo partner page's callback on this server: it follows ``CPA_PORT`` through the
    issuer (``http://<host>:<port>`` unless ``CPA_ISSUER`` names the public address)."""
    return settings.issuer + DEMO_CALLBACK_PATH


def _demo_client(
    settings: Settings, name: str, title: str, kind: ClientKind, *, browser: bool
) -> NewClient:
    """``demo-<name>`` with the secret ``demo-<name>-secret``; ``browser``: it runs the
    authorization-code flow, so it has the demo redirect URI."""
    return NewClient(
        client_id=DEMO_CLIENT_PREFIX + name,
        client_secret=f"{DEMO_CLIENT_PREFIX}{name}-secret",
        name=title,
        kind=kind,
        redirect_uris=[demo_redirect_uri(settings)] if browser else (),
    )


_DEMO_PARTNERS: list[tuple[str, str, ClientKind, bool]] = [
    # name, title, kind, runs the authorization-code flow in a browser
    ("portal", "Mon Compte Formation (démo)", "portal", True),
    ("training-body", "Organisme de formation (démo)", "training_body", True),
    ("training-body-2", "Atelier soudure (démo)", "training_body", True),
    ("advisor-tool", "Outil conseiller (démo)", "advisor_tool", False),
    ("operator", "Opérateur déclarations et financeur (démo)", "operator", False),
]


def demo_clients(settings: Settings) -> list[NewClient]:
    """The demo partners, one of each kind, their redirect URIs on this server."""
    return [
        _demo_client(settings, name, title, kind, browser=browser)
        for name, title, kind, browser in _DEMO_PARTNERS
    ]


def demo_client(settings: Settings, name: str) -> NewClient:
    """The demo client ``demo-<name>``."""
    return next(c for c in demo_clients(settings) if c.client_id == DEMO_CLIENT_PREFIX + name)


def demo_password(index: int) -> str:
    return f"cpa-demo-{index + 1}"


def demo_credentials(settings: Settings) -> dict[str, Any]:
    """What a newcomer types: the partners' ids and secrets, the citizens' NIRs and passwords,
    where to start (the same whether or not they are loaded in a given database)."""
    return {
        "issuer": settings.issuer,
        "metadata": settings.issuer + "/.well-known/oauth-authorization-server",
        "demo_page": settings.issuer + DEMO_PAGE_PATH,
        "clients": [
            {
                "client_id": new.client_id,
                "client_secret": new.client_secret,
                "kind": new.kind,
                "redirect_uris": list(new.redirect_uris),
            }
            for new in demo_clients(settings)
        ],
        "persons": [
            {"nir": person.nir, "password": demo_password(index)}
            for index, person in enumerate(DEMO_PERSONS)
        ],
    }


async def load_demo_auth(db: Connection, vault: NirVault, settings: Settings) -> dict[str, Any]:
    """Register the demo clients and passwords (idempotent); the credentials to print."""
    async with db.transaction():
        for new in demo_clients(settings):
            with contextlib.suppress(ClientAlreadyRegistered):
                await register_client(db, new)
        for index, new_person in enumerate(DEMO_PERSONS):
            person = await find_person_by_nir(db, vault, new_person.nir)
            await set_password(db, person.id, demo_password(index))
    return demo_credentials(settings)


async def point_demo_clients(db: Connection, settings: Settings) -> list[str]:
    """Give the browser demo clients this server's redirect URI (a start on another port than
    the one that loaded them); the ids changed. Only ``demo-*`` clients are ever touched."""
    changed: list[str] = []
    for new in demo_clients(settings):
        if new.redirect_uris and await db.fetchval(
            sql("update_demo_client_redirect_uris"),
            new.client_id,
            list(new.redirect_uris),
            DEMO_CLIENT_PREFIX + "%",
        ):
            changed.append(str(new.client_id))
    return changed


async def demo_loaded(db: Connection, vault: NirVault, settings: Settings) -> bool:
    """Whether this database holds the demo clients and persons (so the credentials work)."""
    for new in demo_clients(settings):
        if await db.fetchval(sql("get_oauth_client"), new.client_id) is None:
            return False
    for person in DEMO_PERSONS:
        try:
            await find_person_by_nir(db, vault, person.nir)
        except NotFound:
            return False
    return True
