"""Money rules: every amount is integer fen (分, 1/100 yuan); no float ever holds a price.

Rounding is half up to the fen, done once per computed amount (a labour price, a parts line, the
tax), so the settlement's lines add up to its total exactly. Pure functions, no imports from the web
or the database.
"""

from __future__ import annotations

from dataclasses import dataclass


def _half_up(numerator: int, denominator: int) -> int:
    """numerator ÷ denominator rounded half up (amounts here are never negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def labour_fen(minutes: int, rate_fen_per_hour: int) -> int:
    """The price of `minutes` of sold time at the shop's hourly labour rate."""
    return _half_up(minutes * rate_fen_per_hour, 60)


def line_fen(quantity: int, unit_price_fen: int) -> int:
    """A parts line: quantity × unit price."""
    return quantity * unit_price_fen


def tax_fen(gross_fen: int, rate_basis_points: int) -> int:
    """The tax inside a tax-inclusive amount at a rate in basis points (1300 = 13 %).

    Prices in a Chinese workshop are quoted with tax included (含税价): the customer pays what the
    lines say, and the settlement shows how much of it is tax (其中税额), as the invoice does."""
    return _half_up(gross_fen * rate_basis_points, 10_000 + rate_basis_points)


@dataclass(frozen=True)
class Totals:
    labour_fen: int
    parts_fen: int
    discount_fen: int
    net_fen: int
    tax_fen: int
    total_fen: int


def totals(labour: list[int], parts: list[int], discount_fen: int, rate_basis_points: int) -> Totals:
    """The settlement: labour and parts summed, the discount taken off; the rest is what the
    customer pays (total), of which `tax_fen` is tax (prices include tax) and `net_fen` the rest.

    Callers check the discount first (never above labour + parts; api.workshop says so in the
    person's language); here it is an invariant."""
    labour_sum, parts_sum = sum(labour), sum(parts)
    assert 0 <= discount_fen <= labour_sum + parts_sum, "discount out of range"
    total = labour_sum + parts_sum - discount_fen
    tax = tax_fen(total, rate_basis_points)
    return Totals(labour_sum, parts_sum, discount_fen, total - tax, tax, total)


def yuan_text(fen: int) -> str:
    """¥1,234.50 from 123450 fen, for pages the server renders (the tablet has web/js/money.js)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"
