"""Operating errors of partner access (RFC 9457 problems outside ``/oauth/*``).

The OAuth endpoints answer RFC 6749 error bodies instead (Authlib's ``OAuth2Error``); these
are for the resource guard, consents, advisor lookups and the command line. Database
constraint names are registered with ``cpa.db.constraints``, the one place they are mapped.
"""

from __future__ import annotations

from cpa.db.constraints import domain_error as domain_error  # for the clients' registration
from cpa.db.constraints import register
from cpa.errors import Conflict, CpaError, InvalidInput, NotFound


class Unauthorized(CpaError, slug="unauthorized", status=401):
    """A valid access token is required."""


class InsufficientScope(CpaError, slug="insufficient-scope", status=403):
    """The access token does not grant this operation."""


class NotAPersonToken(CpaError, slug="person-token-required", status=403):
    """This route acts for a person: use a token obtained with the person's consent."""


class WrongClientKind(CpaError, slug="client-kind-refused", status=403):
    """This kind of partner may not use this route."""


class RateLimited(CpaError, slug="too-many-requests", status=429):
    """Too many requests for this client: retry later."""


class ConsentNotFound(NotFound, slug="consent-not-found"):
    """The person has no consent with this identifier."""


class PersonRefNotFound(NotFound, slug="person-ref-not-found"):
    """This person reference is unknown, expired, or was issued to another client."""


class UnknownPurpose(InvalidInput, slug="unknown-purpose"):
    """The purpose is not one of the declared purposes."""


class ClientAlreadyRegistered(Conflict, slug="client-already-registered"):
    """A client with this identifier is already registered."""


class ClientNotFound(NotFound, slug="client-not-found"):
    """No client is registered with this identifier."""


class InvalidClientRegistration(InvalidInput, slug="invalid-client-registration"):
    """The client registration is not valid."""


class ConsentIsPermanentRecord(Conflict, slug="consent-append-only"):
    """A consent is never deleted nor edited: it can only be revoked, once."""


register(
    {
        "oauth_clients_pkey": ClientAlreadyRegistered,
        "oauth_clients_kind_known": InvalidClientRegistration,
        "oauth_clients_auth_method_known": InvalidClientRegistration,
        "oauth_clients_credentials_match_method": InvalidClientRegistration,
        "oauth_clients_rate_limit_positive": InvalidClientRegistration,
        "advisor_lookups_purpose_known": UnknownPurpose,
        "advisor_lookups_advisor_id_length": InvalidInput,
        "consents_append_only": ConsentIsPermanentRecord,
    }
)
