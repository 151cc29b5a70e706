"""The committed OpenAPI document is the one the app generates (`make openapi`)."""

from pathlib import Path

import msgspec

from cpa.app import create_app
from cpa.config import Settings

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_spec_matches_the_app(settings: Settings) -> None:
    generated = create_app(settings).openapi_schema.to_schema()
    committed = msgspec.json.decode(SPEC.read_bytes())
    assert committed == msgspec.json.decode(msgspec.json.encode(generated)), (
        "openapi/openapi.json is stale: run `make openapi`"
    )
