"""Operating errors of partner access (RFC 9457 problems outside ``/oauth/*``).

The OAuth endpoints answer RFC 6749 error bodies instead (Authlib's ``OAuth2Error``); these
are for the resource guard, consents, advisor lookups and the command line. Database
constraint names are registered with ``cpa.db.constraints``, the one place they are mapped.
"""

from __future__ import annotations

from cpa.db.constraints import domain_error as domain_error  # for the clients' registration
from cpa.db.constraints import register
from cpa.errors import Conflict, CpaError, InvalidInput, NotFound


class Unauthorized(CpaError):
    """A valid access token is required."""

    slug = "unauthorized"
    status = 401


class InsufficientScope(CpaError):
    """The access token does not grant this operation."""

    slug = "insufficient-scope"
    status = 403


class NotAPersonToken(CpaError):
    """This route acts for a person: use a token obtained with the person's consent."""

    slug = "person-token-required"
    status = 403


class WrongClientKind(CpaError):
    """This kind of partner may not use this route."""

    slug = "client-kind-refused"
    status = 403


class RateLimited(CpaError):
    """Too many requests for this client: retry later."""

    slug = "too-many-requests"
    status = 429


class ConsentNotFound(NotFound):
    """The person has no consent with this identifier."""

    slug = "consent-not-found"


class PersonRefNotFound(NotFound):
    """This person reference is unknown, expired, or was issued to another client."""

    slug = "person-ref-not-found"


class UnknownPurpose(InvalidInput):
    """The purpose is not one of the declared purposes."""

    slug = "unknown-purpose"


class ClientAlreadyRegistered(Conflict):
    """A client with this identifier is already registered."""

    slug = "client-already-registered"


class ClientNotFound(NotFound):
    """No client is registered with this identifier."""

    slug = "client-not-found"


class InvalidClientRegistration(InvalidInput):
    """The client registration is not valid."""

    slug = "invalid-client-registration"


class ConsentIsPermanentRecord(Conflict):
    """A consent is never deleted nor edited: it can only be revoked, once."""

    slug = "consent-append-only"


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
