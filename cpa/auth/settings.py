"""Knobs of partner access, read once from ``CPA_AUTH_*`` variables (units in the names).

Kept apart from :mod:`cpa.config` so the authorization server's limits live with it; the
issuer comes from the main settings (``CPA_ISSUER``).
"""

from __future__ import annotations

import os

import msgspec


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True):
    access_token_lifetime_s: int = 300
    """Access tokens live 5 minutes (Authlib's own default is 10 days: never rely on it)."""
    refresh_token_lifetime_s: int = 30 * 86_400
    """Capped by the consent's expiry."""
    authorization_code_lifetime_s: int = 60
    pushed_request_lifetime_s: int = 60
    consent_lifetime_days: int = 180
    advisor_ref_lifetime_s: int = 900
    clock_skew_s: int = 10
    """Tolerance on exp/nbf/iat of access tokens (at most 10 s, per issue 4)."""
    par_required_for_portals: bool = False
    """RFC 9126 ``require_pushed_authorization_requests`` for portal clients."""
    revocation_poll_ms: int = 1_000
    """How stale a worker's revocation list may be for revocations made by other workers."""
    key_reload_s: int = 60
    """How soon a worker signs with a key rotated by ``python -m cpa keys rotate``."""
    verified_token_cache_size: int = 10_000
    verified_secret_cache_size: int = 1_000
    rate_limit_window_s: int = 60
    login_attempts_per_window: int = 20
    """Failed logins allowed per NIR and per worker in one rate-limit window."""
    page_size_max: int = 100


def auth_settings_from_environ(environ: dict[str, str] | None = None) -> AuthSettings:
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for name, field in zip(
        AuthSettings.__struct_fields__, msgspec.structs.fields(AuthSettings), strict=True
    ):
        value = env.get("CPA_AUTH_" + name.upper())
        if value:
            raw[name] = value.lower() in ("1", "true", "yes") if field.type is bool else int(value)
    return msgspec.convert(raw, AuthSettings)
