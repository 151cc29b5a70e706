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
from cpa.demo.persons import DEMO_PERSONS
from cpa.persons import NirVault, find_person_by_nir

DEMO_REDIRECT_URI = "http://127.0.0.1:8000/demo/callback"


def _demo_client(name: str, title: str, kind: ClientKind, *, browser: bool) -> NewClient:
    """``demo-<name>`` with the secret ``demo-<name>-secret``; ``browser``: it runs the
    authorization-code flow, so it has the demo redirect URI."""
    return NewClient(
        client_id=f"demo-{name}",
        client_secret=f"demo-{name}-secret",
        name=title,
        kind=kind,
        redirect_uris=[DEMO_REDIRECT_URI] if browser else (),
    )


DEMO_CLIENTS = [
    _demo_client("portal", "Mon Compte Formation (démo)", "portal", browser=True),
    _demo_client("training-body", "Organisme de formation (démo)", "training_body", browser=True),
    _demo_client("training-body-2", "Atelier soudure (démo)", "training_body", browser=True),
    _demo_client("advisor-tool", "Outil conseiller (démo)", "advisor_tool", browser=False),
    _demo_client(
        "operator", "Opérateur déclarations et financeur (démo)", "operator", browser=False
    ),
]


def demo_password(index: int) -> str:
    return f"cpa-demo-{index + 1}"


async def load_demo_auth(db: Connection, vault: NirVault, settings: Settings) -> dict[str, Any]:
    """Register the demo clients and passwords (idempotent); the credentials to print."""
    clients = []
    async with db.transaction():
        for new in DEMO_CLIENTS:
            with contextlib.suppress(ClientAlreadyRegistered):
                await register_client(db, new)
            clients.append(
                {
                    "client_id": new.client_id,
                    "client_secret": new.client_secret,
                    "kind": new.kind,
                    "redirect_uris": list(new.redirect_uris),
                }
            )
        passwords = []
        for index, new_person in enumerate(DEMO_PERSONS):
            person = await find_person_by_nir(db, vault, new_person.nir)
            await set_password(db, person.id, demo_password(index))
            passwords.append({"nir": new_person.nir, "password": demo_password(index)})
    return {
        "issuer": settings.issuer,
        "metadata": settings.issuer + "/.well-known/oauth-authorization-server",
        "clients": clients,
        "persons": passwords,
    }
