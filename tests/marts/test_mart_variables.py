"""Every variable METRICS.md names is a project variable with the default METRICS.md gives it."""

from __future__ import annotations

from pathlib import Path

from engine.spec.yaml_source import load_yaml_file

ROOT = Path(__file__).resolve().parents[2]

METRICS_DEFAULTS = {
    "as_of": "latest",
    "timezone": "America/New_York",
    "option_charge": "per_line",
    "rfm_lookback_days": 365,
    "at_risk_days": 45,
    "churned_days": 90,
    "bot_max_orders_per_day": 20,
    "lift_window_days": 90,
    "clv_horizon_days": 365,
    "annual_discount_rate": 0,
    "bulk_min_quantity": 100,
    "bulk_min_price": 1000,
}


def test_metrics_variables_have_their_defaults():
    variables = load_yaml_file(ROOT / "medallion.yaml").data["variables"]
    assert {name: variables.get(name) for name in METRICS_DEFAULTS} == METRICS_DEFAULTS


def test_marts_use_no_wall_clock():
    # the as-of rule: days are counted to gold.as_of, never to today
    for path in sorted((ROOT / "marts").glob("*.yaml")):
        text = path.read_text(encoding="utf-8").lower()
        for word in ("current_date", "current_timestamp", "now()", "curdate", "getdate"):
            assert word not in text, f"{path.name} reads the wall clock ({word})"
