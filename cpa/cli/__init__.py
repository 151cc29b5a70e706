"""``python -m cpa …``, the command line: an entry point, imported by ``cpa.__main__`` only.

``common`` (a database for one command, JSON output), ``commands`` (serve, migrate, db,
persons, demo, simulate, openapi), ``auth`` (clients, keys), ``ledger`` (credit, ledger).
"""

__all__: list[str] = []  # modules are imported by name (cpa.cli.common …)
