"""The second example project (examples/cdnow): validate, its spec tests, and a real run.

Expected totals were worked out by hand from examples/cdnow/data/*.txt: 13 purchase lines, of
which one has a CD count 'x' (quarantined by parse) and one has five fields (quarantined by the
text reader); the 11 good purchases sum to 291.66.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from engine.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cdnow"
pytestmark = pytest.mark.slow


def test_validate_test_and_run(spark, tmp_path, capsys):
    args = ["--project-dir", str(EXAMPLE)]
    assert main(["validate", *args]) == 0
    assert main(["test", *args]) == 0
    assert "3 passed, 0 failed" in capsys.readouterr().out
    assert main(["run", *args, "--var", f"lake_dir={tmp_path}"]) == 0
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    monthly = con.execute("select cast(month as varchar), purchases, customers, cds, revenue "
                          "from gold.monthly_sales order by month").fetchall()
    assert monthly == [("1997-01-01", 7, 5, 15, Decimal("209.92")), ("1997-03-01", 1, 1, 2, Decimal("20.76")),
                       ("1997-04-01", 1, 1, 2, Decimal("19.54")), ("1997-08-01", 1, 1, 1, Decimal("14.96")),
                       ("1997-12-01", 1, 1, 2, Decimal("26.48"))]
    regions = con.execute("select region, customers, purchases, revenue from gold.region_sales order by region").fetchall()
    assert regions == [("east", 1, 4, Decimal("100.50")), ("north", 2, 4, Decimal("72.83")),
                       ("south", 2, 3, Decimal("118.33"))]
    customers = con.execute("select customer_id, purchase_days, cds, spend, is_repeat_buyer "
                            "from gold.customer_summary order by customer_id").fetchall()
    assert customers == [("00001", 1, 1, Decimal("11.77"), False), ("00002", 1, 6, Decimal("89.00"), False),
                         ("00003", 3, 6, Decimal("61.06"), True), ("00004", 4, 7, Decimal("100.50"), True),
                         ("00005", 1, 2, Decimal("29.33"), False)]
    reasons = con.execute("select _rule, _reason from quarantine.bronze_purchases union all "
                          "select _rule, _reason from quarantine.silver_purchases order by 1").fetchall()
    assert reasons == [("parse", "cds: cannot parse 'x' as int"),
                       ("text_fields", "expected 4 fields, found 5: 00006 19970105  1   5.00  extra")]
