"""What each kind of partner may ask for, and how a citizen reads each scope; the scopes
themselves are defined once, in ``cpa.scopes`` (re-exported here for the authorization server)."""

from __future__ import annotations

from cpa.auth.principal import ClientKind
from cpa.scopes import MACHINE_SCOPES, PERSON_SCOPES, SCOPES, Scope

__all__ = [
    "KIND_GRANT_TYPES",
    "KIND_SCOPES",
    "MACHINE_SCOPES",
    "PERSON_SCOPES",
    "SCOPES",
    "SCOPE_WORDS",
    "Scope",
]

KIND_SCOPES: dict[ClientKind, tuple[Scope, ...]] = {
    # Every person scope but reserving rights for a training (a training body's):
    "portal": (
        *(scope for scope in SCOPES if scope in PERSON_SCOPES - {"cpf:hold"}),
        "events:read",  # its consenting persons' dossiers, with a client-credentials token
    ),
    "training_body": (
        "cpf:read",
        "cpf:hold",
        "holds:read",  # its own token: the holds it created, to reconcile after a crash
        "trainings:write",
        "dossiers:manage",
        "events:read",
    ),
    "advisor_tool": ("advisor:read",),
    "operator": ("declarations:write", "dossiers:finance"),
}
KIND_GRANT_TYPES: dict[ClientKind, tuple[str, ...]] = {
    "portal": ("authorization_code", "refresh_token", "client_credentials"),
    "training_body": ("authorization_code", "refresh_token", "client_credentials"),
    "advisor_tool": ("client_credentials",),
    "operator": ("client_credentials",),
}

# What the consent page says, in plain words (French first).
SCOPE_WORDS: dict[str, dict[str, str]] = {
    "account:read": {
        "fr": "voir que vous avez un compte et son état",
        "en": "see that you have an account and its status",
    },
    "cpf:read": {
        "fr": "voir vos droits à la formation (CPF), en euros",
        "en": "see your training rights (CPF), in euros",
    },
    "c2p:read": {
        "fr": "voir vos points de prévention de la pénibilité (C2P)",
        "en": "see your hardship prevention points (C2P)",
    },
    "cec:read": {
        "fr": "voir vos droits d'engagement citoyen (CEC)",
        "en": "see your citizen-engagement rights (CEC)",
    },
    "services:read": {
        "fr": "voir les services liés à votre compte",
        "en": "see the services linked to your account",
    },
    "services:write": {
        "fr": "gérer les services liés à votre compte",
        "en": "manage the services linked to your account",
    },
    "cpf:hold": {
        "fr": "réserver une somme de vos droits CPF pour une formation",
        "en": "set aside an amount of your CPF rights for a training course",
    },
    "holds:read": {
        "fr": "retrouver les réservations de droits CPF qu'il a faites",
        "en": "list the CPF reservations it made",
    },
    "c2p:convert": {
        "fr": "convertir vos points C2P à votre demande",
        "en": "convert your C2P points at your request",
    },
    "advisor:read": {
        "fr": "consulter les droits d'une personne pour un motif déclaré",
        "en": "check a person's rights for a declared purpose",
    },
    "declarations:write": {
        "fr": "transmettre des déclarations",
        "en": "send declarations",
    },
    "trainings:read": {
        "fr": "chercher des formations dans le catalogue pour vous",
        "en": "search the training catalogue for you",
    },
    "trainings:write": {
        "fr": "gérer son propre catalogue de formations",
        "en": "manage its own training catalogue",
    },
    "dossiers:read": {
        "fr": "voir vos dossiers de formation et ce qu'ils vous coûtent",
        "en": "see your training files and what they cost you",
    },
    "dossiers:write": {
        "fr": "demander une formation, accepter, refuser ou annuler une proposition pour vous",
        "en": "request a training, accept, decline or cancel a proposal for you",
    },
    "dossiers:manage": {
        "fr": "traiter les dossiers de formation de ses propres sessions",
        "en": "process the training files of its own sessions",
    },
    "dossiers:finance": {
        "fr": "décider du financement des dossiers de formation",
        "en": "decide on the funding of training files",
    },
    "events:read": {
        "fr": "recevoir les événements des dossiers de formation qui le concernent",
        "en": "receive the events of the training dossiers that concern it",
    },
}
