"""Every statistic of the profile report is within its published tolerance (scale 1 and 0.02).

The targets come from ``sample_data.published`` (the numbers analysts published about the real
files), never from re-running the generator.
"""

from __future__ import annotations

import pytest

from sample_data import published as pub
from sample_data.profile import STATS

LABELS = [s.label for s in STATS]


def test_report_covers_enough_statistics(report_full):
    checked = [r for r in report_full.values() if r.ok is not None]
    assert len(checked) >= 30
    assert len(report_full) == len(STATS)
    assert {r.section for r in checked} >= {"format", "volume", "apps", "stores", "customers",
                                            "loyalty", "items", "prices", "quantity", "options",
                                            "quirks", "2023 scope"}


@pytest.mark.parametrize("label", LABELS)
def test_scale1_statistic_within_tolerance(report_full, label):
    row = report_full[label]
    assert row.ok is not False, (f"{row.section}/{row.statistic}: target {row.target}, measured "
                                 f"{row.measured}, tolerance {row.tolerance}")


@pytest.mark.parametrize("label", LABELS)
def test_small_scale_statistic_within_tolerance(report_small, label):
    row = report_small[label]
    assert row.ok is not False, (f"{row.section}/{row.statistic}: target {row.target}, measured "
                                 f"{row.measured}, tolerance {row.tolerance}")


def test_small_scale_still_checks_most_statistics(report_small):
    assert sum(r.ok is not None for r in report_small.values()) >= 150


def test_published_numbers_are_consistent():
    """The facts sheet's breakdowns add up to its totals (guards typos in published.py)."""
    assert sum(pub.FRACTION_DIGITS.values()) == pub.ITEM_RECORDS
    assert sum(pub.APP_ROWS.values()) == pub.ITEM_RECORDS
    assert sum(pub.LINES_BY_UTC_YEAR.values()) == pub.ITEM_RECORDS
    assert sum(pub.ORDERS_BY_NY_YEAR.values()) == pub.ORDERS
    assert sum(pub.LINES_PER_ORDER.values()) == pub.ORDERS
    assert sum(pub.ORDERS_PER_CUSTOMER.values()) == pub.USERS
    assert sum(pub.QUANTITY.values()) == pub.ITEM_RECORDS
    assert sum(pub.OPTION_PRICES.values()) + 413 == pub.OPTION_ROWS
    assert pub.DUPLICATES["rows"] - pub.DUPLICATES["groups"] == pub.DUPLICATES["extra_rows"]
    assert pub.ITEM_PHYSICAL_LINES - 1 - pub.ITEM_RECORDS == pub.NEWLINE_RECORDS
