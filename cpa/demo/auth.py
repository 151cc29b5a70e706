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
from cpa.config import Settings
from cpa.db.database import Connection
from cpa.demo.persons import DEMO_PERSONS
from cpa.persons import NirVault, find_person_by_nir

DEMO_REDIRECT_URI = "http://127.0.0.1:8000/demo/callback"
DEMO_CLIENTS = [
    NewClient(
        client_id="demo-portal",
        client_secret="demo-portal-secret",
        name="Mon Compte Formation (démo)",
        kind="portal",
        redirect_uris=[DEMO_REDIRECT_URI],
    ),
    NewClient(
        client_id="demo-training-body",
        client_secret="demo-training-body-secret",
        name="Organisme de formation (démo)",
        kind="training_body",
        redirect_uris=[DEMO_REDIRECT_URI],
    ),
    NewClient(
        client_id="demo-advisor-tool",
        client_secret="demo-advisor-tool-secret",
        name="Outil conseiller (démo)",
        kind="advisor_tool",
    ),
    NewClient(
        client_id="demo-operator",
        client_secret="demo-operator-secret",
        name="Opérateur déclarations (démo)",
        kind="operator",
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
