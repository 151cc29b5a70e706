"""Rate limits of partner access: per client, per caller address, and the login throttle.

Every count is a fixed window per key and per process, kept in a bounded map
(:class:`Windows`): a stranger sending distinct keys (client ids, NIRs, addresses) makes it
forget the least recently counted ones, never grow. Counting is per process: with N
workers a key gets at most N times its limit (a shared counter would cost a round trip per
request).

Answers carry ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds
until the window ends); past the limit, 429 with ``Retry-After``.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict

import msgspec

from cpa.auth.settings import AuthSettings

SCOPE_KEY = "cpa_ratelimit"
IPV6_PREFIX_BITS = 64
"""An IPv6 host owns a whole /64 (SLAAC, privacy addresses): counted as one address."""


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


class Windows:
    """Counts per key in fixed windows starting at a key's first count, at most ``size_max``
    keys: the least recently counted key is forgotten first, and ended windows are dropped
    as new keys come (so an idle map shrinks too)."""

    def __init__(self, window_s: float, size_max: int) -> None:
        self.window_s = window_s
        self.size_max = size_max
        self._entries: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def count(self, key: str, now: float) -> tuple[int, float]:
        """How many in ``key``'s current window, and the seconds until it ends."""
        entry = self._entries.get(key)
        if entry is None or now - entry[0] >= self.window_s:
            return 0, self.window_s
        return entry[1], entry[0] + self.window_s - now

    def add(self, key: str, now: float) -> tuple[int, float]:
        """Count one more for ``key``: the new count and the seconds until its window ends."""
        entry = self._entries.pop(key, None)
        if entry is None or now - entry[0] >= self.window_s:
            entry = (now, 0)
            self._make_room(now)
        started, count = entry[0], entry[1] + 1
        self._entries[key] = (started, count)
        return count, started + self.window_s - now

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def _make_room(self, now: float) -> None:
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if len(self._entries) < self.size_max and now - oldest[0] < self.window_s:
                return
            self._entries.popitem(last=False)


class RateLimiter:
    """Requests per key (a client's own, authenticated requests; or failures per address)."""

    def __init__(self, window_s: int, size_max: int = 10_000) -> None:
        self._window_s = window_s
        self._windows = Windows(window_s, size_max)

    def __len__(self) -> int:
        return len(self._windows)

    def hit(self, key: str, limit_per_minute: int, now: float | None = None) -> Quota:
        """Count one request for ``key``; its quota afterwards."""
        count, left_s = self._windows.add(key, _now(now))
        return self._quota(limit_per_minute, count, left_s)

    def peek(self, key: str, limit_per_minute: int, now: float | None = None) -> Quota:
        """The quota of ``key`` if one more request were counted, without counting it."""
        count, left_s = self._windows.count(key, _now(now))
        return self._quota(limit_per_minute, count + 1, left_s)

    def _quota(self, limit_per_minute: int, count: int, left_s: float) -> Quota:
        limit = max(1, limit_per_minute * self._window_s // 60)
        return Quota(limit=limit, remaining=limit - count, reset_s=max(1, math.ceil(left_s)))


def address_key(client: tuple[str, int] | list[object] | None) -> str:
    """The caller's address as counted (ASGI ``scope["client"]``): IPv6 by /64."""
    if not client:
        return "unknown"
    host = str(client[0])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        prefix = int(address) >> (128 - IPV6_PREFIX_BITS) << (128 - IPV6_PREFIX_BITS)
        return str(ipaddress.IPv6Network((prefix, IPV6_PREFIX_BITS)))
    return str(address)


class LoginThrottle:
    """Which login attempts may be checked, counting failures only (OWASP, NIST 800-63B §5.2.2).

    An attempt on a NIR from an address is refused, before any hashing, when in the current
    ``login_window_s`` of each key:

    1. the address has ``login_failures_per_address`` failures, on any NIRs (spraying);
    2. the (NIR, address) pair has ``login_failures_per_nir_address`` failures (guessing);
    3. the NIR has ``login_failures_per_nir`` failures from all addresses (a distributed
       attack) *and* the address is not fresh: it has ``login_failures_fresh_address_max``
       failures or more. A fresh address, the citizen's own, is still checked, so a correct
       password from it always passes; the attacker gets at most that many guesses per
       address and window;
    4. this worker has checked ``login_verifications_per_second`` passwords this second.

    A success forgets its (NIR, address) pair's failures and counts nothing.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        window_s, size_max = settings.login_window_s, settings.login_keys_max
        self.by_address = Windows(window_s, size_max)
        self.by_pair = Windows(window_s, size_max)
        self.by_nir = Windows(window_s, size_max)
        self.verifications = Windows(1.0, 1)

    def entries(self) -> int:
        """Keys held in memory, all maps together."""
        return len(self.by_address) + len(self.by_pair) + len(self.by_nir)

    def refusal(self, nir_key: str, address: str, now: float | None = None) -> int | None:
        """Seconds to wait when the attempt is refused; None when it may be checked (and
        then it takes one verification from this second's budget)."""
        moment = _now(now)
        s = self.settings
        address_failures, address_left = self.by_address.count(address, moment)
        if address_failures >= s.login_failures_per_address:
            return _seconds(address_left)
        pair_failures, pair_left = self.by_pair.count(_pair(nir_key, address), moment)
        if pair_failures >= s.login_failures_per_nir_address:
            return _seconds(pair_left)
        nir_failures, nir_left = self.by_nir.count(nir_key, moment)
        if (
            nir_failures >= s.login_failures_per_nir
            and address_failures >= s.login_failures_fresh_address_max
        ):
            return _seconds(min(nir_left, address_left))
        checked, second_left = self.verifications.count("", moment)
        if checked >= s.login_verifications_per_second:
            return _seconds(second_left)
        self.verifications.add("", moment)
        return None

    def failed(self, nir_key: str, address: str, now: float | None = None) -> None:
        moment = _now(now)
        self.by_address.add(address, moment)
        self.by_pair.add(_pair(nir_key, address), moment)
        self.by_nir.add(nir_key, moment)

    def succeeded(self, nir_key: str, address: str) -> None:
        self.by_pair.forget(_pair(nir_key, address))


def _pair(nir_key: str, address: str) -> str:
    return nir_key + "|" + address


def _seconds(left_s: float) -> int:
    return max(1, math.ceil(left_s))


def _now(now: float | None) -> float:
    return time.monotonic() if now is None else now
