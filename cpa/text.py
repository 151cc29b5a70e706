"""Text as it may be stored: the wire types of every free-text field a request can carry.

PostgreSQL's ``text`` cannot hold the NUL character (``\\u0000``, valid JSON): a string
reaching a statement with one fails the whole request with an encoding error. Every stored
string is declared with one of these types, so a NUL is refused where the value is decoded,
as a 422 naming its field (the pattern appears in the OpenAPI schema). Lengths are the
columns' own limits; ``cpa.db.constraints`` is the net under any string that escapes them.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

NO_NUL = r"^[^\x00]*$"
"""Any text but the NUL character (an ECMA-262 and Python regular expression alike)."""
REFERENCE_LENGTH_MAX = 200
"""A partner's reference of a training or a contract, an organisation's name."""
IDENTIFIER_LENGTH_MAX = 64
"""An advisor's identifier (``advisor_lookups_advisor_id_length``), a catalogue service id."""

Reference = Annotated[str, msgspec.Meta(max_length=REFERENCE_LENGTH_MAX, pattern=NO_NUL)]
"""Free text of at most 200 characters (blank ones are refused by the domain, which says why)."""
Identifier = Annotated[
    str, msgspec.Meta(min_length=1, max_length=IDENTIFIER_LENGTH_MAX, pattern=NO_NUL)
]
"""A short identifier: 1 to 64 characters, no NUL."""
