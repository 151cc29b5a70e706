"""The access-token codec signs with joserfc's ES256 but builds the compact JWS itself, and
checks claims with joserfc's claims registry."""

from __future__ import annotations

import asyncpg
import pytest
from joserfc import jwt

from cpa.auth.crypto import derive_key
from cpa.auth.keys import KeyStore, rotate_signing_key
from cpa.auth.tokens import AccessTokenCodec, TokenInvalid

ISSUER = "http://127.0.0.1:8000"
CLAIMS = {
    "iss": ISSUER,
    "aud": ISSUER + "/v1",
    "client_id": "advisor-tool-0123",
    "scope": "advisor:read",
    "jti": "2CEKLq0HCkKy2ioFL7Mq-g",
    "iat": 1_795_650_261,
    "exp": 1_795_650_561,
    "sub": 'pairwise/é\u2028"quoted"',
    "auth_time": 1_795_650_000,
}


async def test_tokens_are_what_joserfc_encodes(db: asyncpg.Connection) -> None:
    """Same header and payload bytes as ``joserfc.jwt.encode``; the signature verifies."""
    encryption_key = derive_key(b"\x01" * 32, "signing-keys")
    keys = KeyStore(encryption_key, reload_s=60)
    await keys.refresh(db)
    codec = AccessTokenCodec(ISSUER, keys, clock_skew_s=10)
    for _ in range(2):  # a rotation: the new key signs, with its own kid in the header
        key = keys.signing_key
        token = codec.encode(CLAIMS)
        reference = jwt.encode(
            {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}, CLAIMS, key, algorithms=["ES256"]
        )
        assert token.split(".")[:2] == reference.split(".")[:2]
        decoded = jwt.decode(token, key, algorithms=["ES256"])
        assert decoded.header == {"typ": "at+jwt", "alg": "ES256", "kid": key.kid}
        assert decoded.claims == CLAIMS
        assert codec.decode(token, check_time=False) == CLAIMS
        await rotate_signing_key(db, encryption_key)
        await keys.refresh(db, force=True)


def _checked(claims: dict[str, object], *, check_time: bool = True) -> str | None:
    """The refusal's words for ``claims`` checked at CLAIMS' iat + 60 s (None: accepted)."""
    codec = AccessTokenCodec(ISSUER, KeyStore(b"\x00" * 32, reload_s=60), clock_skew_s=10)
    now = CLAIMS["iat"] + 60
    try:
        codec.check_claims(claims, check_time=check_time, now=now)
    except TokenInvalid as refusal:
        return str(refusal)
    return None


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({}, None),
        ({"aud": ["https://other.example", ISSUER + "/v1"]}, None),
        ({"exp": CLAIMS["iat"] + 51}, None),  # expired 9 s ago: within the skew
        ({"exp": CLAIMS["iat"] + 50}, "expired"),
        ({"exp": "never"}, "expired"),
        ({"nbf": CLAIMS["iat"] + 70}, None),
        ({"nbf": CLAIMS["iat"] + 71}, "not yet valid"),
        ({"iat": CLAIMS["iat"] + 71}, "not yet valid"),
        ({"iss": "https://evil.example"}, "wrong issuer"),
        ({"aud": ISSUER}, "wrong audience"),
        ({"aud": ["https://other.example"]}, "wrong audience"),
        ({"jti": None, "scope": None}, "missing claims: jti, scope"),
    ],
)
def test_claims_refusals(change: dict[str, object], refusal: str | None) -> None:
    claims = {**CLAIMS, "exp": CLAIMS["iat"] + 300, **change}
    assert _checked({k: v for k, v in claims.items() if v is not None}) == refusal


def test_introspection_reads_expired_tokens_but_not_foreign_ones() -> None:
    expired = {**CLAIMS, "exp": CLAIMS["iat"] - 3600}
    assert _checked(expired, check_time=False) is None
    assert _checked({**expired, "iss": "https://evil.example"}, check_time=False) == "wrong issuer"
