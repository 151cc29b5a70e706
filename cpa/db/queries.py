"""Named queries: every SQL statement lives in ``sql/<domain>.sql`` under ``-- name: verb_noun``.

Python code reaches a statement by its name only (``sql("insert_person")``); names are unique
across files, so a grep for the name finds both the statement and its callers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_HEADER = re.compile(r"^--\s*name:\s*([a-z][a-z0-9_]*)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class NamedQuery:
    name: str
    domain: str
    description: str
    text: str


def parse(domain: str, source: str) -> list[NamedQuery]:
    """Split one ``.sql`` file into its named statements (first comment line = description)."""
    headers = list(_HEADER.finditer(source))
    queries = []
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(source)
        body = source[header.end() : end].strip()
        lines = body.splitlines()
        description = ""
        if lines and lines[0].startswith("--"):
            description = lines[0].lstrip("- ").strip()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("--")).strip()
        queries.append(NamedQuery(header.group(1), domain, description, text.rstrip(";")))
    return queries


@cache
def load(sql_dir: Path = SQL_DIR) -> dict[str, NamedQuery]:
    queries: dict[str, NamedQuery] = {}
    for path in sorted(sql_dir.glob("*.sql")):
        if path.name == "schema.sql":
            continue
        for query in parse(path.stem, path.read_text()):
            if query.name in queries:
                raise ValueError(f"query {query.name!r} defined twice ({path.name})")
            queries[query.name] = query
    return queries


def sql(name: str) -> str:
    """The text of the named query ``name``."""
    return load()[name].text
