"""The database layer: the pool and its bounded waits (``pool``, ``database``), the named
queries of ``sql/`` (``queries``), migrations (``migrations``, ``admin``), the constraint →
error registry each domain registers with (``constraints``), outages (``outage``) and our
embedded PostgreSQL with its watchdog (``embedded``, ``watchdog``).

Its modules are imported by name: this face exports nothing of its own.
"""

__all__: list[str] = []
