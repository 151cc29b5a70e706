"""Operating errors of the persons registry."""

from cpa.db.constraints import register
from cpa.errors import Conflict, InvalidInput, NotFound


class InvalidNir(InvalidInput):
    """The NIR is not valid."""

    slug = "invalid-nir"


class PersonAlreadyRegistered(Conflict):
    """A person with this NIR is already registered."""

    slug = "person-already-registered"


class PersonNotFound(NotFound):
    """No person is registered with this identifier."""

    slug = "person-not-found"


# Every table naming a person refers to persons(id): an unknown id is that person missing.
register({"_person_id_fkey": PersonNotFound}, suffixes=True)
