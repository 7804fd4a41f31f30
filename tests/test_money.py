"""The money rules (api/money.py) as properties: integer fen, rounding half up, tax inside the prices,
discounts within the bill, and a settlement whose lines add up to its total exactly."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api import money
from api.handover import add_months

FEN = st.integers(min_value=0, max_value=10_000_000)  # up to ¥100,000 a line
RATE = st.integers(min_value=0, max_value=3000)  # 0–30 %, basis points


def half_up(exact: Fraction) -> int:
    """The reference: the nearest integer, halves up, from exact rational arithmetic."""
    floor = exact.numerator // exact.denominator
    return floor + (1 if exact - floor >= Fraction(1, 2) else 0)


@given(st.integers(min_value=0, max_value=6000), st.integers(min_value=0, max_value=1_000_000))
def test_labour_is_minutes_times_rate_rounded_half_up(minutes: int, rate: int) -> None:
    fen = money.labour_fen(minutes, rate)
    assert isinstance(fen, int)
    assert fen == half_up(Fraction(minutes * rate, 60))


def test_labour_rounds_a_half_fen_up() -> None:
    assert money.labour_fen(1, 30) == 1  # 0.5 fen → 1
    assert money.labour_fen(1, 29) == 0  # 0.483… → 0
    assert money.labour_fen(90, 20000) == 30000  # 1.5 h at ¥200 = ¥300


@given(st.integers(min_value=1, max_value=1000), FEN)
def test_a_parts_line_is_quantity_times_unit_price(quantity: int, unit: int) -> None:
    assert money.line_fen(quantity, unit) == quantity * unit


@given(FEN, RATE)
def test_tax_inside_is_the_rounded_share_of_the_gross(gross: int, rate: int) -> None:
    tax = money.tax_fen(gross, rate)
    assert isinstance(tax, int) and 0 <= tax <= gross
    assert tax == half_up(Fraction(gross * rate, 10_000 + rate))
    # Net + tax is the gross exactly, and the net at the rate gives the tax back within a fen.
    net = gross - tax
    assert abs(Fraction(net * rate, 10_000) - tax) <= 1


def test_tax_at_thirteen_percent() -> None:
    assert money.tax_fen(11300, 1300) == 1300  # ¥113 incl. 13 % → ¥13 tax
    assert money.tax_fen(100, 1300) == 12  # 11.504… → 12
    assert money.tax_fen(0, 1300) == 0


@given(st.lists(FEN, max_size=8), st.lists(FEN, max_size=8), RATE, st.data())
def test_totals_add_up_exactly(labour: list[int], parts: list[int], rate: int, data: st.DataObject) -> None:
    gross = sum(labour) + sum(parts)
    discount = data.draw(st.integers(min_value=0, max_value=gross))
    t = money.totals(labour, parts, discount, rate)
    assert (t.labour_fen, t.parts_fen, t.discount_fen) == (sum(labour), sum(parts), discount)
    assert t.total_fen == t.labour_fen + t.parts_fen - t.discount_fen >= 0
    assert t.net_fen + t.tax_fen == t.total_fen
    assert t.tax_fen == money.tax_fen(t.total_fen, rate)
    assert all(isinstance(v, int) for v in (t.net_fen, t.tax_fen, t.total_fen))


@given(st.lists(FEN, min_size=1, max_size=8), RATE, st.integers(min_value=1, max_value=1000))
def test_a_discount_above_the_bill_is_never_a_total(labour: list[int], rate: int, over: int) -> None:
    with pytest.raises(AssertionError):
        money.totals(labour, [], sum(labour) + over, rate)
    with pytest.raises(AssertionError):
        money.totals(labour, [], -over, rate)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_yuan_text_reads_back_as_the_same_fen(fen: int) -> None:
    text = money.yuan_text(fen)
    sign = -1 if text.startswith("-") else 1
    whole, cents = text.lstrip("-").removeprefix("¥").replace(",", "").split(".")
    assert sign * (int(whole) * 100 + int(cents)) == fen and len(cents) == 2


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)), st.integers(min_value=0, max_value=60)
)
def test_next_service_months_land_in_the_right_month(day: date, months: int) -> None:
    later = add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day == day.day or later.day < day.day  # the month's last day when shorter
