"""Explanations: every computed amount carries where it came from.

A ``Trace`` names the rule that produced an amount, the parameter values it used (each with its
effective date and legal reference) and the input facts it read. ``ParamValue`` objects are built
once when the parameter files load and shared by every trace, so a trace costs one small tuple
and one dict.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from cpa.rules.params import ParamValue

__all__ = ["Fact", "Trace"]

Fact = int | bool | str | dt.date | None


class Trace(msgspec.Struct, frozen=True):
    """Why an amount is what it is. ``parameters[0]`` is the rule's main parameter."""

    rule_id: str
    parameters: tuple[ParamValue, ...]
    facts: dict[str, Fact]
    note: str = ""

    @property
    def main(self) -> ParamValue:
        return self.parameters[0]

    @property
    def legal_reference(self) -> str:
        return self.main.reference.article

    @property
    def parameter_effective_from(self) -> dt.date:
        return self.main.effective_from
