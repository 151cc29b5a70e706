"""Named queries: every SQL statement lives in ``sql/<domain>.sql`` under ``-- name: verb_noun``.

Python code reaches a statement by its name only (``sql("insert_person")``); names are unique
across files, so a grep for the name finds both the statement and its callers.

``sql/`` stays at the top of the repository; ``cpa/_sql`` is a link to it, so that the files
are package data: read here with ``importlib.resources``, the same from a checkout, an
editable install or a wheel (which carries them under ``cpa/_sql``, see pyproject.toml).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

SQL_DIR: Traversable = files("cpa") / "_sql"
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


def sql_files(directory: Traversable) -> list[Traversable]:
    """The ``.sql`` files directly in ``directory``, by name."""
    found = [entry for entry in directory.iterdir() if entry.name.endswith(".sql")]
    if not found:
        raise FileNotFoundError(f"no .sql file in {directory} (is the package installed whole?)")
    return sorted(found, key=lambda entry: entry.name)


@cache
def load(sql_dir: Traversable = SQL_DIR) -> dict[str, NamedQuery]:
    queries: dict[str, NamedQuery] = {}
    for path in sql_files(sql_dir):
        if path.name == "schema.sql":
            continue
        for query in parse(path.name.removesuffix(".sql"), path.read_text()):
            if query.name in queries:
                raise ValueError(f"query {query.name!r} defined twice ({path.name})")
            queries[query.name] = query
    return queries


def sql(name: str) -> str:
    """The text of the named query ``name``."""
    return load()[name].text
