"""The CDNOW summary (tests/cases/clv, README there for its provenance) and every family's fit on it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from engine.clv.families import FAMILIES

CASES = Path(__file__).resolve().parents[1] / "cases" / "clv"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CASES / "cdnow_summary.csv")


@pytest.fixture(scope="module")
def fits(cdnow):
    """BG/NBD, MBG/NBD and Pareto/NBD fitted on the 2,357 CDNOW customers (weeks)."""
    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("x", "t_x", "T"))
    return {name: family.fit(x, t_x, T) for name, family in FAMILIES.items()}
