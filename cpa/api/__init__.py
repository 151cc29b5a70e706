"""The HTTP layer: one module of Litestar controllers per resource, the problem answers and the
health probes. It calls the domains; nothing below it imports it (see [tool.importlinter])."""

__all__: list[str] = []  # controllers are imported by name, wired in cpa.app
