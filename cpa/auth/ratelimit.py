"""Per-client rate limits: a fixed window per client and per process.

Answers carry ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds
until the window ends); past the limit, 429 with ``Retry-After``. Counting is per process:
with N workers a client gets at most N times its limit (a shared counter would cost a
round trip per request).
"""

from __future__ import annotations

import math
import time

import msgspec

SCOPE_KEY = "cpa_ratelimit"


class Quota(msgspec.Struct, frozen=True):
    limit: int
    remaining: int
    reset_s: int

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.reset_s),
        }
        if self.exceeded:
            headers["Retry-After"] = str(self.reset_s)
        return headers


class RateLimiter:
    def __init__(self, window_s: int) -> None:
        self._window_s = window_s
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, limit_per_minute: int, now: float | None = None) -> Quota:
        moment = time.monotonic() if now is None else now
        limit = max(1, limit_per_minute * self._window_s // 60)
        started, count = self._windows.get(key, (moment, 0))
        if moment - started >= self._window_s:
            started, count = moment, 0
        count += 1
        self._windows[key] = (started, count)
        reset = max(1, math.ceil(started + self._window_s - moment))
        return Quota(limit=limit, remaining=limit - count, reset_s=reset)
