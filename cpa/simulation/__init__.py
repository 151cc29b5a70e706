"""Simulation: the rights a hypothetical career produces, per /work/shared/simulation.md.

Owns the scenario and rights documents (``models``) and the paper campaign (``service``): decode
and validate a scenario strictly (``cpa.errors.InvalidInput`` with a JSON path per problem), then
credit every year before the year of ``as_of`` by calling the same ``cpa.rules`` functions the
ledger calls — one implementation of the law (CT L6323-11 ff., L5151-7 ff., L4163-1 ff.).
Pure: no database, no clock, no web framework; the CLI and ``POST /v1/simulations`` both call
``simulate_json``.
"""

from cpa.simulation.models import Rights, Scenario
from cpa.simulation.service import decode_scenario, simulate, simulate_json, validate_scenario

__all__ = [
    "Rights",
    "Scenario",
    "decode_scenario",
    "simulate",
    "simulate_json",
    "validate_scenario",
]
