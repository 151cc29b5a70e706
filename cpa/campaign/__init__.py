"""The national crediting campaign (issue 14): its synthetic population (``synth``) and the
bulk intake of the operators' files (``intake``): persons and yearly declarations streamed
into PostgreSQL with COPY, each line checked once by the declarations API's own checks
(``cpa.declarations``), rejected lines written out with their line number and problem.
"""

from cpa.campaign.intake import IntakeReport, kind_of, load_declarations, load_persons
from cpa.campaign.synth import parse_years, synthesize

__all__ = [
    "IntakeReport",
    "kind_of",
    "load_declarations",
    "load_persons",
    "parse_years",
    "synthesize",
]
