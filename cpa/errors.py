"""Operating errors: the failures cpa expects and answers as RFC 9457 problems.

Each subclass's docstring is its title; ``slug`` is the stable last part of the problem
``type`` (``urn:cpa:problem:<slug>``) and ``status`` its HTTP status. Raise them anywhere
(domain code never imports the web layer); ``cpa.api.problems`` turns them into
``application/problem+json``, the CLI prints them on standard error and exits with 2.
Programmer errors (broken invariants) are ``assert``s, never ``CpaError``s.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_TYPE_PREFIX = "urn:cpa:problem:"


class CpaError(Exception):
    """The request cannot be served."""

    slug: ClassVar[str] = "error"
    status: ClassVar[int] = 400

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        self.detail = detail or self.title
        self.extensions = extensions
        super().__init__(self.detail)

    @property
    def title(self) -> str:
        return (type(self).__doc__ or "Error").strip().splitlines()[0].rstrip(".")

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.slug

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 body: type, title, status, detail, instance, then extensions."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


class InvalidInput(CpaError):
    """The input is not valid."""

    slug = "invalid-input"
    status = 422


class NotFound(CpaError):
    """The resource does not exist."""

    slug = "not-found"
    status = 404


class Conflict(CpaError):
    """The request conflicts with the current state."""

    slug = "conflict"
    status = 409


class Unavailable(CpaError):
    """A dependency of the service is unavailable."""

    slug = "unavailable"
    status = 503
