"""The profile report: every published statistic, its target, what a folder measures, and whether
it is within tolerance.

Why tolerances look the way they do: a statistic that is an exact property of the format or a
planted quirk (headers, card iff loyalty, 12 newline records) must match exactly; volumes and
shares of a random process get a base tolerance plus sampling noise that grows as the scale
shrinks (3 sigma of a binomial share, 3/sqrt(n) of a count); statistics that only make sense
for a full-size dataset (distinct names, maxima of heavy tails) apply only in a scale range and
are reported as n/a elsewhere. Targets are the published numbers (``published``), scaled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from sample_data import published as pub, quirks
from sample_data.measure import measure
from sample_data.stats import STATS as _FIRST, Stat
from sample_data.stats_more import MORE

STATS = _FIRST + MORE


@dataclass(frozen=True)
class ProfileRow:
    section: str
    statistic: str
    target: object
    measured: object
    tolerance: str
    ok: bool | None          # None: not applicable at this scale
    lo: float | None = None
    hi: float | None = None


def folder_scale(folder: Path) -> float:
    """The scale recorded by the generator in ``sample_manifest.json`` (1.0 for other folders)."""
    f = Path(folder) / "sample_manifest.json"
    if f.exists():
        return float(json.loads(f.read_text(encoding="utf-8")).get("scale", 1.0))
    return 1.0


def _target(s: Stat, scale: float, quota: dict):
    if s.mode == "count":
        return s.target * scale
    if s.mode == "quota":
        return quota[s.quota]
    if s.mode == "planned":
        return max(2, int(round(s.target * scale)))
    return s.target


def _bounds(s: Stat, t, scale: float) -> tuple[float | None, float | None, str]:
    kind, *a = s.tol
    if kind == "exact":
        return None, None, "exact"
    if kind == "range":
        return a[0], a[1], f"[{_fmt(a[0])}, {_fmt(a[1])}]"
    shown = f"{a[0] * 100:.2f}%" if s.pct or (isinstance(a[0], float) and a[0] <= 1) else _fmt(a[0])
    if kind == "max":
        return None, a[0], f"<= {shown}"
    if kind == "min":
        return a[0], None, f">= {shown}"
    if kind == "rel":
        r = a[0] + (3 / math.sqrt(max(t, 1)) if s.mode == "count" and s.poisson else 0)
        r += a[0] * s.noise * (math.sqrt(1 / scale) - 1) if scale < 1 else 0
        return t * (1 - r), t * (1 + r), f"±{r * 100:.1f}%"
    if kind == "abs":
        w = a[0]
        if s.basis:
            n = max(pub_basis(s.basis) * scale, 1)
            p = min(max(t, 1e-6), 1 - 1e-6) if isinstance(t, float) and t < 1 else 0.5
            w += 3 * math.sqrt(p * (1 - p) / n) * (s.unit or 1)
        w += a[0] * s.noise * (math.sqrt(1 / scale) - 1) if scale < 1 else 0
        unit = " pp" if s.pct else ""
        shown = w * 100 if s.pct else w
        return t - w, t + w, f"±{shown:.2f}{unit}"
    raise ValueError(kind)


def pub_basis(name: str) -> float:
    return {"records": pub.ITEM_RECORDS, "orders": pub.ORDERS, "users": pub.USERS,
            "options": pub.OPTION_ROWS, "optioned": pub.OPTIONED_LINES, "multi": pub.MULTI_QTY_ROWS,
            "dev": pub.APP_ROWS[pub.APP_DEV], "s23users": pub.SCOPE_2023["customers"] * 0.5}[name]


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return str(v)
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 100):
        return f"{int(round(v)):,}"
    if isinstance(v, float) and abs(v) < 1:
        return f"{v:.4f}"
    return f"{v:,.2f}"


def evaluate(measured: dict, scale: float) -> list[ProfileRow]:
    quota = quirks.totals(scale)
    rows = []
    for s in STATS:
        t = _target(s, scale, quota)
        m = measured.get(s.key)
        if not (s.min_scale <= scale <= s.max_scale) or m is None:
            rows.append(ProfileRow(s.section, s.label, _show(t, s), _show(m, s), "n/a", None))
            continue
        lo, hi, text = _bounds(s, t, scale)
        if s.tol[0] == "exact":
            ok = m == t if not isinstance(t, float) else abs(float(m) - t) < 1e-9
        else:
            ok = (lo is None or m >= lo - 1e-12) and (hi is None or m <= hi + 1e-12)
        rows.append(ProfileRow(s.section, s.label, _show(t, s), _show(m, s), text, bool(ok), lo, hi))
    return rows


def _show(v, s: Stat):
    if isinstance(v, float) and s.pct:
        return f"{v * 100:.2f}%"
    if isinstance(v, float) and s.mode == "count":
        return _fmt(round(v))
    return _fmt(v) if not isinstance(v, str) else v


def profile_report(folder: Path, scale: float | None = None) -> list[ProfileRow]:
    """Measure ``folder`` and compare with the published profile scaled by ``scale``
    (default: the scale in the folder's manifest, else 1)."""
    folder = Path(folder)
    return evaluate(measure(folder), folder_scale(folder) if scale is None else scale)
