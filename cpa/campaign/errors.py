"""Operating errors of the campaign's bulk intake (the line problems the declarations API has
no reason to know: a file's own shape, the campaign's year, a line repeated in one load)."""

from __future__ import annotations

from cpa.errors import InvalidInput


class TruncatedLine(InvalidInput, slug="truncated-line"):
    """The file's last line is cut short (no end of line, not a whole JSON document)."""


class LineTooLong(InvalidInput, slug="line-too-long"):
    """The line is longer than a declaration line can be."""


class DuplicateLine(InvalidInput, slug="duplicate-line"):
    """The line repeats an earlier line of the same load (same person, year and key)."""


class OutsideCampaignYear(InvalidInput, slug="outside-campaign-year"):
    """The line is for another year than the campaign's."""


class UnknownFileKind(InvalidInput, slug="unknown-file-kind"):
    """The file's kind of declarations cannot be told from its name."""
