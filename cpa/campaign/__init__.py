"""The national crediting campaign (issue 14): its synthetic population (``synth``), the bulk
intake of the operators' files (``intake``: persons and yearly declarations streamed into
PostgreSQL with COPY, each line checked once by the declarations API's own checks, rejected
lines written out with their line number and problem), and the run: a year's persons cut into
chunks leased by worker processes (``run``), each chunk credited set-based by the ledger's own
``plan_credit`` (``chunks``), watched and reported against the ledger (``report``).
"""

from cpa.campaign.chunks import credit_chunk
from cpa.campaign.intake import IntakeReport, kind_of, load_declarations, load_persons
from cpa.campaign.models import CampaignReport, CampaignStatus, ChunkStats
from cpa.campaign.report import campaign_report, campaign_status, record_load
from cpa.campaign.run import CampaignPass, open_pass, work
from cpa.campaign.synth import parse_years, synthesize

__all__ = [
    "CampaignPass",
    "CampaignReport",
    "CampaignStatus",
    "ChunkStats",
    "IntakeReport",
    "campaign_report",
    "campaign_status",
    "credit_chunk",
    "kind_of",
    "load_declarations",
    "load_persons",
    "open_pass",
    "parse_years",
    "record_load",
    "synthesize",
    "work",
]
