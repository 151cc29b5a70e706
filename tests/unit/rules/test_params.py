"""Parameter files: strict loading, lookups, and temporal coverage of every parameter."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from cpa.rules.params import (
    PARAMETERS,
    ParameterFileError,
    ParameterNotInForce,
    load_parameters,
    value_at,
)

REF = 'reference = { article = "CT X", text = "t", evidence = "V" }'
GOOD = f"""
account = "cpf"
[[parameter]]
id = "x.rate"
unit = "cents"
description = "d"
[[parameter.values]]
from = 2019-01-01
value = 100
{REF}
[[parameter.values]]
from = 2020-01-01
stop = true
{REF}
"""


def _load(text: str) -> None:
    load_parameters({"test.toml": text.encode()})


def test_good_document_loads() -> None:
    params = load_parameters({"test.toml": GOOD.encode()})
    assert params.value_at("x.rate", dt.date(2019, 6, 1)).value == 100
    assert params.value_or_none("x.rate", dt.date(2020, 1, 1)) is None
    assert params.value_or_none("x.rate", dt.date(2018, 12, 31)) is None


@pytest.mark.parametrize(
    ("broken", "why"),
    [
        (GOOD.replace('description = "d"', 'description = "d"\ncolour = "red"'), "unknown key"),
        (GOOD.replace("from = 2020-01-01", "from = 2018-01-01"), "unordered dates"),
        (GOOD.replace("from = 2020-01-01", "from = 2019-01-01"), "duplicate dates"),
        (GOOD.replace(REF, "", 1), "missing reference"),
        (GOOD.replace('unit = "cents"', 'unit = "euros"'), "unknown unit"),
        (GOOD.replace("value = 100", "value = true"), "boolean for a cents unit"),
        (GOOD.replace("value = 100", "value = -1"), "negative amount"),
        (GOOD.replace("value = 100", 'value = "100"'), "string value"),
        (GOOD.replace("stop = true", "stop = true\nvalue = 3"), "stop with a value"),
        (GOOD.replace('evidence = "V"', 'evidence = "sure"', 1), "unknown evidence tag"),
        (GOOD.replace('account = "cpf"', 'account = "dif"'), "unknown account"),
        (GOOD + GOOD.replace('account = "cpf"', ""), "duplicate parameter id"),
        (GOOD + '[[factor]]\nkind = "k"\nlabel = "l"\nthreshold = "nope"\n', "dangling link"),
    ],
)
def test_loader_refuses_bad_documents(broken: str, why: str) -> None:
    with pytest.raises(ParameterFileError):
        _load(broken)


def test_loader_refuses_first_row_stop() -> None:
    with pytest.raises(ParameterFileError):
        _load(GOOD.replace("value = 100", "stop = true"))


def test_value_at_gives_value_date_and_reference() -> None:
    found = value_at("cpf.pfo.amount", dt.date(2025, 6, 1))
    assert (found.value, found.effective_from) == (10223, dt.date(2025, 1, 1))
    assert found.reference.article.startswith("CT L6323-7")


def test_value_at_outside_life_raises() -> None:
    with pytest.raises(ParameterNotInForce):
        value_at("cpf.h.rate_base", dt.date(2019, 1, 1))
    with pytest.raises(ParameterNotInForce):
        value_at("no.such.parameter", dt.date(2019, 1, 1))


def test_every_packaged_row_has_a_reference_and_known_unit() -> None:
    for param_id in PARAMETERS.ids():
        doc = PARAMETERS.doc(param_id)
        assert doc.description
        for row in doc.values:
            assert row.reference.article and row.reference.text, param_id


def _with_reference(**fields: str) -> str:
    text = fields.pop("text", "t")
    extra = "".join(f', {k} = "{v}"' for k, v in fields.items())
    reference = REF.replace('text = "t"', f'text = "{text}"').replace(" }", extra + " }")
    return GOOD.replace(REF, reference, 1)


REASONED = (
    "No text found says which day this value starts: cpa takes the first day of the year,"
    " the day the rights of the year start"
)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"note": "counted as days (cpa decision)"}, "tagged in the note, no decision"),
        ({"text": "a cpa choice"}, "tagged in the text, no decision"),
        ({"note": "OQ-8: the 2017 press said 3 years"}, "an open question, no decision"),
        ({"decision": "cpa decision: ESAT hours era"}, "a label, not a decision"),
        ({"decision": "domain.md §6b OQ-8"}, "§6b has no decision OQ-8"),
        ({"decision": "domain.md §6b OQ-99 (ceiling)"}, "§6b has no decision OQ-99"),
    ],
)
def test_loader_refuses_a_decision_tag_without_a_decision(fields: dict[str, str], why: str) -> None:
    with pytest.raises(ParameterFileError, match="decision"):
        _load(_with_reference(**fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"decision": "domain.md §6b OQ-12"},
        {"decision": "domain.md §6b OQ-2 (ceiling)"},
        {"decision": "domain.md §6b Rounding"},
        {"decision": REASONED},
        {"note": "OQ-9 is open", "decision": REASONED},
    ],
)
def test_loader_accepts_a_decision_of_6b_or_a_stated_one(fields: dict[str, str]) -> None:
    _load(_with_reference(**fields))


def test_a_decision_of_the_activities_is_checked_too() -> None:
    activity = (
        '[[activity]]\nkind = "k"\nlabel = "l"\nassessment_period = "calendar_year"\n'
        "thresholds = []\n"
        'reference = { article = "CT X", text = "t", evidence = "V", note = "cpa decision" }\n'
    )
    with pytest.raises(ParameterFileError, match="activity k"):
        _load(GOOD + activity)


COUNTED = """
account = "cec"
[[parameter]]
id = "x.hours"
unit = "hours"
description = "d"
[[parameter.values]]
from = 2018-01-01
value = 200
{ref}
[[parameter]]
id = "x.counted"
unit = "activities"
description = "d"
[[parameter.values]]
from = {since}
value = ["{kind}"]
{ref}
[[activity]]
kind = "a"
label = "l"
assessment_period = "calendar_year"
{ref}
[[activity.thresholds]]
measure = "hours"
parameter = "x.hours"
"""


@pytest.mark.parametrize(
    ("since", "kind", "loads"),
    [
        ("2018-01-01", "a", True),
        ("2017-01-01", "a", False),  # counted before its threshold is in force
        ("2018-01-01", "b", False),  # not an activity
    ],
)
def test_counted_activities_are_checked(since: str, kind: str, loads: bool) -> None:
    text = COUNTED.format(ref=REF, since=since, kind=kind)
    if loads:
        _load(text)
    else:
        with pytest.raises(ParameterFileError):
            _load(text)


def test_decisions_are_parameters() -> None:
    """Each open question settled in domain.md §6b is cited by a parameter row."""
    decisions = {
        row.reference.decision
        for param_id in PARAMETERS.ids()
        for row in PARAMETERS.doc(param_id).values
    }
    for oq in ("OQ-2", "OQ-3", "OQ-7", "OQ-10", "OQ-11", "OQ-12"):
        assert any(d.startswith(f"domain.md §6b {oq}") for d in decisions), oq


DOCS = Path(__file__).resolve().parents[3] / "cpa" / "rules" / "decisions.md"


def _stated_decisions() -> set[tuple[str, str]]:
    """(parameter id, first day) of every row whose decision is stated in the files."""
    return {
        (param_id, row.from_.isoformat())
        for param_id in PARAMETERS.ids()
        for row in PARAMETERS.doc(param_id).values
        if row.reference.decision and not row.reference.decision.startswith("domain.md §6b")
    }


def test_every_stated_decision_is_documented() -> None:
    """cpa/rules/decisions.md has a line per decision the files state (id and date), no more."""
    section = DOCS.read_text().split("\n## Decisions stated")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([a-z0-9_.]+)` \| (\d{4}-\d\d-\d\d) \|", section, re.MULTILINE)
    assert set(rows) == _stated_decisions()


def _raw_rows_on(param_id: str, day: dt.date) -> list[object]:
    """Independent of bisect: every row whose [from, next from) interval contains the day."""
    rows = PARAMETERS.doc(param_id).values
    ends = [r.from_ for r in rows[1:]] + [dt.date.max]
    return [r for r, end in zip(rows, ends, strict=True) if r.from_ <= day < end and not r.stop]


def test_temporal_coverage_2015_to_2030() -> None:
    """Each parameter has exactly one value on each day of its life and none outside."""
    day, last = dt.date(2015, 1, 1), dt.date(2030, 12, 31)
    ids = PARAMETERS.ids()
    while day <= last:
        for param_id in ids:
            series = PARAMETERS.series[param_id]
            found = series.at(day)
            raw = _raw_rows_on(param_id, day) if day.day == 1 else None
            if raw is not None:
                assert len(raw) == (0 if found is None else 1), (param_id, day)
            if found is not None:
                assert found.effective_from <= day, (param_id, day)
                assert found.effective_until is None or day < found.effective_until
        day += dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("param_id", "day", "expected"),
    [
        ("cpf.h.rate_base", dt.date(2018, 12, 31), 24),
        ("cpf.h.rate_base", dt.date(2019, 1, 1), None),
        ("cpf.h.low_qualified.rate", dt.date(2016, 12, 31), None),
        ("cpf.h.low_qualified.rate", dt.date(2017, 1, 1), 48),
        ("cpf.eur.rate_base", dt.date(2018, 12, 31), None),
        ("cpf.eur.rate_base", dt.date(2019, 1, 1), 50000),
        ("cec.h.per_activity", dt.date(2016, 12, 31), None),
        ("cec.h.per_activity", dt.date(2017, 1, 1), 20),
        ("cec.eur.per_activity", dt.date(2019, 1, 1), 24000),
        ("cec.assoc_min_age", dt.date(2024, 4, 16), 3),
        ("cec.assoc_min_age", dt.date(2024, 4, 17), 1),
        ("c2p.factor.night_work.threshold", dt.date(2023, 8, 31), 120),
        ("c2p.factor.night_work.threshold", dt.date(2023, 9, 1), 100),
        ("c2p.factor.alternating_shifts.threshold", dt.date(2023, 8, 31), 50),
        ("c2p.factor.alternating_shifts.threshold", dt.date(2023, 9, 1), 30),
        ("c2p.factor.night_work.threshold_transition", dt.date(2023, 6, 1), 113),
        ("c2p.factor.night_work.threshold_transition", dt.date(2024, 1, 1), None),
        ("c2p.factor.alternating_shifts.threshold_transition", dt.date(2023, 6, 1), 43),
        ("c2p.factor.noise_daily.threshold", dt.date(2016, 6, 30), None),
        ("c2p.factor.noise_daily.threshold", dt.date(2016, 7, 1), 600),
        ("c2p.factor.manual_handling.threshold", dt.date(2017, 9, 30), 600),
        ("c2p.factor.manual_handling.threshold", dt.date(2017, 10, 1), None),
        ("c2p.points.career_cap", dt.date(2023, 8, 31), 100),
        ("c2p.points.career_cap", dt.date(2023, 9, 1), None),
        ("c2p.use.training.hours_per_point", dt.date(2018, 12, 31), 25),
        ("c2p.use.training.cents_per_point", dt.date(2019, 1, 1), 37500),
        ("c2p.use.training.cents_per_point", dt.date(2023, 9, 1), 50000),
        ("c2p.use.part_time.max_points_before_60", dt.date(2023, 8, 31), None),
        ("c2p.use.part_time.max_points_before_60", dt.date(2023, 9, 1), 80),
        ("cec.activity.civic_reserve.hours", dt.date(2017, 12, 31), None),
        ("cec.activity.civic_reserve.hours", dt.date(2018, 1, 1), 200),
        ("cec.activity.police_reserve.days", dt.date(2017, 1, 1), 75),
        ("cpf.pfo.amount", dt.date(2024, 5, 1), None),
        ("cpf.pfo.amount", dt.date(2024, 5, 2), 10000),
        ("cpf.pfo.amount", dt.date(2025, 1, 1), 10223),
        ("cpf.pfo.amount", dt.date(2026, 1, 1), 10320),
        ("training.deadline.withdrawal", dt.date(2019, 11, 20), None),
        ("training.deadline.withdrawal", dt.date(2021, 6, 9), 14),
        ("training.deadline.withdrawal", dt.date(2021, 6, 10), 11),
        ("training.deadline.start_after_proposal", dt.date(2021, 6, 9), 0),
        ("training.deadline.start_after_proposal", dt.date(2021, 6, 10), 11),
    ],
)
def test_date_changes(param_id: str, day: dt.date, expected: int | None) -> None:
    found = PARAMETERS.value_or_none(param_id, day)
    assert (found.value if found else None) == expected


def test_twelve_cec_activities() -> None:
    from cpa.rules.cec import CEC_KINDS, cec_activities

    assert sorted(cec_activities()) == sorted(CEC_KINDS)
    assert len(CEC_KINDS) == 12
