"""The pure parts of webhooks: the wait between attempts, the secrets and their sealing."""

from __future__ import annotations

import re
from itertools import pairwise
from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidTag
from standardwebhooks import Webhook

from cpa.webhooks import EVENT_TYPES, DeliveryPolicy, SecretBox
from cpa.webhooks.crypto import check_secret, new_secret
from cpa.webhooks.errors import InvalidWebhook

POLICY = DeliveryPolicy(
    attempt_timeout_s=10, backoff_first_s=5, backoff_max_s=3600, failures_max=20
)


@pytest.mark.parametrize(
    ("attempts", "low_s", "high_s"),
    [(1, 2.5, 5), (2, 5, 10), (3, 10, 20), (10, 1280, 2560), (11, 1800, 3600), (500, 1800, 3600)],
)
def test_the_wait_doubles_within_half_and_whole_up_to_the_cap(
    attempts: int, low_s: float, high_s: float
) -> None:
    assert POLICY.backoff_s(attempts, 0.0) == low_s
    assert POLICY.backoff_s(attempts, 0.999999) == pytest.approx(high_s, rel=1e-5)


@pytest.mark.parametrize("draws", [(0.99, 0.0), (0.5, 0.5), (0.0, 0.99)])
def test_below_the_cap_each_wait_is_at_least_the_one_before_whatever_the_jitter(
    draws: tuple[float, float],
) -> None:
    """Equal jitter: a wait is between half and the whole of a doubling amount (at the cap,
    waits are anywhere from half the cap to the cap)."""
    for attempts in range(1, 9):  # 5 s · 2**8 = 1280 s: the ninth wait's whole is the cap
        waits = [POLICY.backoff_s(attempts, draws[0]), POLICY.backoff_s(attempts + 1, draws[1])]
        assert all(later >= earlier for earlier, later in pairwise(waits))


def test_a_generated_secret_signs_as_standard_webhooks_reads_it() -> None:
    secret = check_secret(new_secret())
    assert secret.startswith("whsec_")
    Webhook(secret)  # decodes: base64 of 32 bytes


@pytest.mark.parametrize(
    "secret",
    ["whsec_" + "A" * 8, "whsec_!!!!" + "A" * 40, "whsec_" + "A" * 96, "A" * 44, "whsec_"],
)
def test_a_secret_is_whsec_and_24_to_64_bytes(secret: str) -> None:
    with pytest.raises(InvalidWebhook):
        check_secret(secret)


def test_a_sealed_secret_opens_only_for_its_subscription() -> None:
    box, secret, owner = SecretBox(bytes(range(32))), new_secret(), uuid4()
    sealed = box.seal(owner, secret)
    assert secret.encode() not in sealed
    assert box.open(owner, sealed) == secret
    with pytest.raises(InvalidTag):
        box.open(uuid4(), sealed)


def test_every_known_event_type_is_one_the_outbox_accepts() -> None:
    """``events_type_named`` (sql/migrations/0002_events.sql): lower case and underscores."""
    assert all(re.fullmatch(r"[a-z_]+\.[a-z_]+", t) for t in EVENT_TYPES)
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES) == 20
