"""Parameter files: strict loading, lookups, and temporal coverage of every parameter."""

from __future__ import annotations

import datetime as dt

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


def test_decisions_are_parameters() -> None:
    """Each open question settled in domain.md §6b is cited by a parameter row."""
    decisions = {
        row.reference.decision
        for param_id in PARAMETERS.ids()
        for row in PARAMETERS.doc(param_id).values
    }
    for oq in ("OQ-2", "OQ-3", "OQ-10", "OQ-11", "OQ-12"):
        assert any(oq in d for d in decisions), oq


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
        ("cpf.pfo.amount", dt.date(2024, 5, 1), None),
        ("cpf.pfo.amount", dt.date(2024, 5, 2), 10000),
        ("cpf.pfo.amount", dt.date(2025, 1, 1), 10223),
        ("cpf.pfo.amount", dt.date(2026, 1, 1), 10320),
    ],
)
def test_date_changes(param_id: str, day: dt.date, expected: int | None) -> None:
    found = PARAMETERS.value_or_none(param_id, day)
    assert (found.value if found else None) == expected


def test_factor_sets_by_date() -> None:
    """4 factors in 2015, 10 from 2016-07-01, 6 from 2017-10-01 (noise has two criteria)."""
    from cpa.rules.c2p import c2p_factors_in_force

    def legal_factors(on: dt.date) -> set[str]:
        return {k.removesuffix("_daily").removesuffix("_peak") for k in c2p_factors_in_force(on)}

    assert len(legal_factors(dt.date(2015, 1, 1))) == 4
    assert len(legal_factors(dt.date(2016, 6, 30))) == 4
    assert len(legal_factors(dt.date(2016, 7, 1))) == 10
    assert len(legal_factors(dt.date(2017, 9, 30))) == 10
    assert len(legal_factors(dt.date(2017, 10, 1))) == 6
    assert len(legal_factors(dt.date(2030, 1, 1))) == 6


def test_twelve_cec_activities() -> None:
    from cpa.rules.cec import CEC_KINDS, cec_activities

    assert sorted(cec_activities()) == sorted(CEC_KINDS)
    assert len(CEC_KINDS) == 12
