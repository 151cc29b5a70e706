"""Operating errors of the persons registry."""

from cpa.db.constraints import register
from cpa.errors import Conflict, InvalidInput, NotFound


class InvalidNir(InvalidInput, slug="invalid-nir"):
    """The NIR is not valid."""


class PersonAlreadyRegistered(Conflict, slug="person-already-registered"):
    """A person with this NIR is already registered."""


class PersonNotFound(NotFound, slug="person-not-found"):
    """No person is registered with this identifier."""


# Every table naming a person refers to persons(id): an unknown id is that person missing.
register({"_person_id_fkey": PersonNotFound}, suffixes=True)
