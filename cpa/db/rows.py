"""Rows into Structs: a query names its columns like the fields of the Struct it fills."""

from __future__ import annotations

from typing import Any, TypeVar

import asyncpg
import msgspec

S = TypeVar("S", bound=msgspec.Struct)


def from_row(struct: type[S], row: asyncpg.Record, **given: Any) -> S:
    """``struct`` from the columns of ``row`` named like its fields; ``given`` fields (a value
    decoded or computed from the row) are taken as they are instead."""
    columns = {name: row[name] for name in struct.__struct_fields__ if name not in given}
    return struct(**columns, **given)
