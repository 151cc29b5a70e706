"""Every parameter that ../shared/domain.md (sections 2–4) tags [V] is in the parameter files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cpa.rules.params import PARAMETERS

DOMAIN = Path(__file__).resolve().parents[4] / "shared" / "domain.md"
# Ids the files split or renamed, with the reason.
RENAMED = {
    "cpf.eur.rounding": "cpf.eur.rounding_step",  # the rounding step (1 cent) is the value
    "cpf.h.rounding": "cpf.h.rounding_step",  # the rounding step (1 hour) is the value
    "c2p.points.doubling": "c2p.points.doubling.born_before",  # date and factor, two values
}
_ROW = re.compile(r"^\| `([a-z0-9_.]+)` \|")


def _verified_ids(text: str) -> set[str]:
    sections = text.split("\n## ")
    wanted = [s for s in sections if s[:2] in {"2.", "3.", "4."}]
    ids = set()
    for section in wanted:
        for line in section.splitlines():
            match = _ROW.match(line)
            if match and "[V]" in line:
                ids.add(match.group(1))
    return ids


@pytest.mark.skipif(not DOMAIN.exists(), reason="shared/domain.md is not beside the project")
def test_every_verified_parameter_is_in_the_files() -> None:
    verified = _verified_ids(DOMAIN.read_text())
    assert len(verified) > 30
    known = set(PARAMETERS.ids())
    missing = sorted(v for v in verified if RENAMED.get(v, v) not in known)
    assert missing == []
