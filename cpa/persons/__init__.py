"""Persons registry: who holds a CPA (CT L5151-2), identified internally by a UUID.

Owns the NIR rules (shape and control key) and how a NIR is kept at rest (encrypted, plus a
keyed hash for lookup), and the status dates that stop CPF crediting (death, full-rate
retirement: CT L5151-2, L6323-2).
"""

from cpa.persons.errors import InvalidNir, PersonAlreadyRegistered, PersonNotFound
from cpa.persons.models import NewPerson, Person
from cpa.persons.nir import NirVault, nir_key, normalise_nir
from cpa.persons.service import find_person_by_nir, get_person, register_person

__all__ = [
    "InvalidNir",
    "NewPerson",
    "NirVault",
    "Person",
    "PersonAlreadyRegistered",
    "PersonNotFound",
    "find_person_by_nir",
    "get_person",
    "nir_key",
    "normalise_nir",
    "register_person",
]
