"""The demo persons: fictitious but valid NIRs (control key computed, so they can be typed at
the login page); every other part of the demo set reads them from here."""

from __future__ import annotations

import datetime as dt

from cpa.persons import NewPerson, nir_key


def _nir(number13: str) -> str:
    return number13 + nir_key(number13)


DEMO_PERSONS = [
    NewPerson(nir=_nir("1800575123456"), birth_date=dt.date(1980, 5, 1)),
    NewPerson(nir=_nir("2920169123123"), birth_date=dt.date(1992, 1, 15)),
    NewPerson(nir=_nir("1580213055001"), birth_date=dt.date(1958, 2, 3)),
    NewPerson(nir=_nir("295062A012345"), birth_date=dt.date(1995, 6, 20)),
]
