"""Operating errors: the failures cpa expects and answers as RFC 9457 problems.

Each subclass's docstring is its title; ``slug`` is the stable last part of the problem
``type`` (``urn:cpa:problem:<slug>``) and ``status`` its HTTP status, both given as class
keywords (``class X(NotFound, slug="x")``) and inherited when left out. Raise them anywhere
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

    def __init_subclass__(
        cls, slug: str | None = None, status: int | None = None, **kwargs: Any
    ) -> None:
        """``class X(CpaError, slug="x", status=404)``: a subclass names its problem in its head."""
        super().__init_subclass__(**kwargs)
        if slug is not None:
            cls.slug = slug
        if status is not None:
            cls.status = status

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


class InvalidInput(CpaError, slug="invalid-input", status=422):
    """The input is not valid."""


class NotFound(CpaError, slug="not-found", status=404):
    """The resource does not exist."""


class Conflict(CpaError, slug="conflict", status=409):
    """The request conflicts with the current state."""


class Unavailable(CpaError, slug="unavailable", status=503):
    """A dependency of the service is unavailable."""
