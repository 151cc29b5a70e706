"""The citizen's browser session at ``/oauth/authorize``: logged in once, not at every partner
request (issue 15 point 4).

A session is a random token in a cookie, and a row (``browser_sessions``) behind the token's
hash: who logged in, at what level and when, and until when. Kept server-side rather than in
a sealed cookie: logging out, or the idle limit, must end the session for every copy of the
cookie at once, which a self-contained cookie cannot do without a server-side deny list (that
is, a table anyway); and a copy of the table opens nothing (hashes only). Each use of the
session is one ``UPDATE … RETURNING`` that both checks and extends it.

The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (sent on the top-level
navigation that brings the citizen back from a partner's site, which is the whole point;
``Strict`` would drop it there and never reuse a session; not sent on a cross-site POST, so no
other site can log the citizen out or in), ``Secure`` and ``__Host-`` prefixed (no domain, path
``/``: no subdomain can set or shadow it) when the issuer is https. Over plain http (a
developer's machine, the tests) a browser refuses both, so the cookie is then plain
``cpa_session``.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from cpa.auth.crypto import new_token, token_hash
from cpa.auth.login import Authentication
from cpa.auth.settings import AuthSettings
from cpa.db.database import Connection
from cpa.db.queries import sql

SECURE_COOKIE = "__Host-cpa_session"
PLAIN_COOKIE = "cpa_session"
SESSION_TOKEN_BYTES = 32


class BrowserSessions:
    """Opens, resumes and ends the sessions of one issuer."""

    def __init__(self, settings: AuthSettings, issuer: str) -> None:
        self.settings = settings
        self.secure = issuer.startswith("https://")
        self.cookie_name = SECURE_COOKIE if self.secure else PLAIN_COOKIE

    async def open(self, db: Connection, who: Authentication, now: dt.datetime) -> str:
        """A new session for ``who``, just logged in: the token its cookie carries (for
        ``browser_session_lifetime_s``; the browser flow makes the cookie)."""
        token = new_token(SESSION_TOKEN_BYTES)
        lifetime = dt.timedelta(seconds=self.settings.browser_session_lifetime_s)
        idle = dt.timedelta(seconds=self.settings.browser_session_idle_s)
        auth_time = dt.datetime.fromtimestamp(who.auth_time, tz=dt.UTC)
        await db.execute(
            sql("insert_browser_session"),
            token_hash(token),
            who.person_id,
            who.acr,
            auth_time,
            now,
            min(now + idle, now + lifetime),
            now + lifetime,
        )
        return token

    async def resume(
        self, db: Connection, token: str | None, now: dt.datetime
    ) -> Authentication | None:
        """Who the session's cookie names, when it is live (its idle limit moves on)."""
        if not token:
            return None
        idle = dt.timedelta(seconds=self.settings.browser_session_idle_s)
        row = await db.fetchrow(sql("resume_browser_session"), token_hash(token), now, now + idle)
        if row is None:
            return None
        person_id: UUID = row["person_id"]
        return Authentication(
            person_id=person_id, acr=row["acr"], auth_time=int(row["auth_time"].timestamp())
        )

    async def end(self, db: Connection, token: str | None) -> None:
        """Log out: the session is gone for every copy of the cookie."""
        if token:
            await db.execute(sql("delete_browser_session"), token_hash(token))
