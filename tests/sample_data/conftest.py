"""Session fixtures: generate the sample data once per test session (scale 1 and scale 0.02)."""

from __future__ import annotations

import pytest

from sample_data.generate import generate
from sample_data.profile import profile_report


@pytest.fixture(scope="session")
def sample_full(tmp_path_factory):
    """Scale 1, seed 42: the size and profile of the real dataset (~203k lines)."""
    out = tmp_path_factory.mktemp("sample_scale1")
    counts = generate(out, scale=1.0, seed=42)
    return out, counts


@pytest.fixture(scope="session")
def sample_small(tmp_path_factory):
    """Scale 0.02, seed 42 (~4k lines)."""
    out = tmp_path_factory.mktemp("sample_scale002")
    counts = generate(out, scale=0.02, seed=42)
    return out, counts


@pytest.fixture(scope="session")
def report_full(sample_full):
    return {r.statistic: r for r in profile_report(sample_full[0])}


@pytest.fixture(scope="session")
def report_small(sample_small):
    return {r.statistic: r for r in profile_report(sample_small[0])}
