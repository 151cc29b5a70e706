"""Knobs of partner access, read once from ``CPA_AUTH_*`` variables (units in the names).

Kept apart from :mod:`cpa.config` so the authorization server's limits live with it; the
issuer comes from the main settings (``CPA_ISSUER``).
"""

from __future__ import annotations

import msgspec

from cpa.config import environ_values


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True):
    access_token_lifetime_s: int = 300
    """Access tokens live 5 minutes (Authlib's own default is 10 days: never rely on it)."""
    refresh_token_lifetime_s: int = 30 * 86_400
    """Capped by the consent's expiry."""
    authorization_code_lifetime_s: int = 60
    """An authorization code is redeemed within a minute (RFC 6749 §4.1.2: short-lived)."""
    used_code_retention_s: int = 86_400
    """How long a used code is remembered: a replay within it revokes what it issued."""
    pushed_request_lifetime_s: int = 60
    """A ``request_uri`` of ``/oauth/par`` is used within a minute (RFC 9126 §2.2)."""
    consent_lifetime_days: int = 180
    """A citizen's consent lasts six months, then the partner asks again."""
    advisor_ref_lifetime_s: int = 900
    """An advisor's person reference lasts 15 minutes: one appointment, one purpose."""
    clock_skew_s: int = 10
    """Tolerance on exp/nbf/iat of access tokens (at most 10 s, per issue 4)."""
    par_required_for_portals: bool = False
    """RFC 9126 ``require_pushed_authorization_requests`` for portal clients."""
    revocation_poll_ms: int = 1_000
    """How stale a worker's revocation list may be for revocations made by other workers."""
    key_reload_s: int = 60
    """How soon a worker signs with a key rotated by ``python -m cpa keys rotate``."""
    verified_token_cache_size: int = 10_000
    """Access tokens whose signature a worker remembers as checked (until they expire)."""
    verified_secret_cache_size: int = 1_000
    """Client secrets a worker remembers as checked, so argon2 runs once per client."""
    rate_limit_window_s: int = 60
    """The window of each client's ``rate_limit_per_minute`` (shared by tokens and API)."""
    rate_limit_keys_max: int = 10_000
    """Clients (or addresses) whose window a worker remembers; the least recent go first."""
    client_auth_failures_per_address: int = 20
    """Failed client authentications (``/oauth/token``, ``/introspect``, ``/revoke``,
    ``/par``) allowed per caller address, per worker, in one rate-limit window: they never
    count against the client they claim to be (its id is public)."""
    login_window_s: int = 900
    """The observation window of failed logins (OWASP's 15 minutes); each limit below is per
    worker and counts failures only."""
    login_failures_per_nir_address: int = 5
    """Failed logins on one NIR from one address: then that address may not try that NIR."""
    login_failures_per_address: int = 30
    """Failed logins from one address on any NIRs (password spraying)."""
    login_failures_per_nir: int = 50
    """Failed logins on one NIR from all addresses: past it, the NIR is under attack and only
    a fresh address (below ``login_failures_fresh_address_max``) may still try it, so the
    citizen's correct password from their own address always passes."""
    login_failures_fresh_address_max: int = 2
    """An address with fewer failures than this (on any NIR) is fresh: one typo allowed."""
    login_verifications_per_second: int = 10
    """argon2id password checks per second per worker (~22 ms each: a fifth of a core), the
    rest refused before hashing, so a login flood cannot starve the API."""
    login_keys_max: int = 10_000
    """Addresses, NIRs and (NIR, address) pairs each failure map remembers (least recently
    failed forgotten first). Above ``login_verifications_per_second * login_window_s``
    (9,000): failures cannot come faster than verifications, so no key is pushed out before
    its window ends; the bound only matters if the settings change."""
    page_size_max: int = 100
    """Largest page of a list the API returns (``limit``)."""
    browser_session_idle_s: int = 900
    """A citizen's session at /oauth/authorize ends after 15 minutes without use: a shared or
    lost computer does not keep the door open (each use of the session moves this on)."""
    browser_session_lifetime_s: int = 7_200
    """…and two hours after the login, however used: then the citizen logs in again."""
    consents_reused_max: int = 20
    """Active consents of one person to one client looked at for one that covers a request."""


def auth_settings_from_environ(environ: dict[str, str] | None = None) -> AuthSettings:
    return msgspec.convert(environ_values("CPA_AUTH_", AuthSettings, environ), AuthSettings)
