"""Rate limits: a fixed-window counter per key, answered with the IETF RateLimit headers.

In-process (per worker): each worker enforces the limit on the requests it serves, so the
effective ceiling is ``limit × workers``; a shared store (PostgreSQL or Redis) can replace
``FixedWindowLimiter`` behind the same ``hit`` method when one process is not enough.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from cpa.errors import CpaError

_SWEEP_EVERY_WINDOWS = 10


class TooManyRequests(CpaError):
    """Too many requests."""

    slug = "too-many-requests"
    status = 429


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


class FixedWindowLimiter:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._counts: dict[str, tuple[int, int]] = {}
        self._last_sweep = 0

    def hit(self, key: str, now: float | None = None) -> Quota:
        """Count one request for ``key``; raise TooManyRequests past the limit."""
        now = time.monotonic() if now is None else now
        window = int(now // self.window_s)
        self._sweep(window)
        seen_window, count = self._counts.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        self._counts[key] = (window, count)
        reset_s = max(1, math.ceil((window + 1) * self.window_s - now))
        quota = Quota(self.limit, max(0, self.limit - count), reset_s)
        if count > self.limit:
            headers = {**quota.headers(), "Retry-After": str(reset_s)}
            raise TooManyRequests(
                f"at most {self.limit} requests per {self.window_s:g} s", headers=headers
            )
        return quota

    def _sweep(self, window: int) -> None:
        if window - self._last_sweep < _SWEEP_EVERY_WINDOWS:
            return
        self._last_sweep = window
        self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
