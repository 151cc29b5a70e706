"""NIR validation: 13 characters + key = 97 − (number mod 97), 2A → 19 and 2B → 18."""

import pytest

from cpa.persons import InvalidNir, NirVault, nir_key, normalise_nir

VALID = [
    ("180057512345627", "mainland, key computed by hand: 1800575123456 mod 97 = 70"),
    ("180052A12345684", "Corsica 2A read as 19"),
    ("2 92 01 69 123 123 14", "spaces are ignored"),
]


@pytest.mark.parametrize(("nir", "why"), VALID)
def test_valid_nirs(nir: str, why: str) -> None:
    assert len(normalise_nir(nir)) == 15


INVALID = [
    ("18005751234562", "15 characters"),
    ("1800575123456270", "15 characters"),
    ("180057512345628", "control key"),
    ("580057512345627", "starts with"),
    ("18005X512345627", "starts with"),
    ("180052C12345684", "starts with"),
]


@pytest.mark.parametrize(("nir", "message"), INVALID)
def test_invalid_nirs_say_why(nir: str, message: str) -> None:
    with pytest.raises(InvalidNir, match=message):
        normalise_nir(nir)


def test_corsica_2b_uses_18() -> None:
    number = "180052B123456"
    assert nir_key(number) == f"{97 - int('1800518123456') % 97:02d}"
    normalise_nir(number + nir_key(number))


def test_vault_round_trip_and_hash_is_stable() -> None:
    vault = NirVault(bytes(range(32)))
    nir = "180057512345627"
    blob = vault.encrypt(nir)
    assert nir.encode() not in blob
    assert vault.decrypt(blob) == nir
    assert vault.encrypt(nir) != blob  # fresh nonce each time
    assert vault.lookup_hash(nir) == vault.lookup_hash(nir)
    assert NirVault(bytes(32)).lookup_hash(nir) != vault.lookup_hash(nir)
