"""``medallion clv evaluate``: backtest a project's ``clv_model`` step on its own data.

Why a backtest and not the fit's likelihood: a model that fits the past well can still predict
badly. The step's ``evaluation:`` block names the order rows behind the summary; the summary is
rebuilt as of ``--calibration-end`` from the rows up to that date only, every family is refitted
with the production fit filter (the step's ``fit_filter`` evaluated on its published table:
suspected bots stay out of the refit and of the metrics), and the holdout is scored for orders
and money next to two baselines (:mod:`engine.clv.compare`). The report is printed and saved
as the run store's ``clv_evaluation`` artefact, which the dashboard shows.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from engine.clv import compare
from engine.clv import evaluate as ev
from engine.errors import UsageError
from engine.spec.clv import ClvEvaluation, ClvModelStep

ARTEFACT = "clv_evaluation"


def find_step(graph: Any, spec_name: str | None) -> tuple[str, ClvModelStep]:
    """The one ``clv_model`` step with an ``evaluation:`` block (or the one of ``spec_name``)."""
    found = [(name, step) for name, item in sorted(graph.specs.items()) for step in item.spec.steps
             if isinstance(step, ClvModelStep) and step.evaluation is not None
             and (spec_name is None or name == spec_name)]
    if not found:
        where = f"spec '{spec_name}'" if spec_name else "the project"
        raise UsageError(f"no clv_model step with an 'evaluation:' block in {where}")
    if len(found) > 1:
        raise UsageError("several clv_model steps can be evaluated: choose one with --spec "
                         f"({', '.join(name for name, _ in found)})")
    return found[0]


def load_orders(spark: Any, lake: Any, cfg: ClvEvaluation) -> pd.DataFrame:
    """The evaluation's order rows (customer, date, value) from the lake, as pandas."""
    from engine.run.runner import read_table
    from engine.steps.clv import arrow_transfers

    if lake.current(cfg.orders) is None:
        raise UsageError(f"table {cfg.orders} has no committed version yet: run the pipeline first")
    frame, _ = read_table(spark, lake, cfg.orders)
    if cfg.where:
        frame = frame.where(cfg.where)
    columns = [cfg.customer, cfg.date] + ([cfg.value] if cfg.value else [])
    frame = frame.where(f"`{cfg.customer}` IS NOT NULL").select(*[f"`{c}`" for c in columns])
    if cfg.value:
        frame = frame.withColumn(cfg.value, frame[f"`{cfg.value}`"].cast("double"))
    with arrow_transfers(spark):
        return frame.toPandas()


def fit_customers(spark: Any, lake: Any, spec_name: str, step: ClvModelStep) -> pd.Index | None:
    """The customers the production fit learns from: ``fit_filter`` on the step's published table
    (None: no filter, everyone)."""
    from engine.run.runner import read_table
    from engine.steps.clv import arrow_transfers

    cfg = step.evaluation
    if not step.fit_filter or cfg is None:
        return None
    if lake.current(spec_name) is None:
        raise UsageError(f"table {spec_name} has no committed version yet: run the pipeline first "
                         "(the backtest applies its fit_filter)")
    frame, _ = read_table(spark, lake, spec_name)
    with arrow_transfers(spark):
        rows = frame.where(f"coalesce({step.fit_filter}, false)").select(f"`{cfg.customer}`").toPandas()
    return pd.Index(rows.iloc[:, 0])


def true_alive(cfg: ClvEvaluation, base_dir: Path, customers: pd.Index,
               calibration_end: date) -> tuple[Any, str | None]:
    """The true alive state at the calibration end per customer, or None with the reason."""
    if cfg.truth is None:
        return None, "no truth file configured"
    path = Path(cfg.truth.path)
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        return None, f"no truth file at {path}"
    truth = pd.read_csv(path, usecols=[cfg.truth.customer, cfg.truth.alive_at_end, cfg.truth.dropout_date],
                        dtype=str, keep_default_na=False).set_index(cfg.truth.customer)
    missing = customers.difference(truth.index)
    if len(missing):
        return None, f"{len(missing):,} customer(s) missing from {path.name}"
    truth = truth.loc[customers]
    alive = ev.true_alive_at(truth[cfg.truth.alive_at_end].to_numpy(), truth[cfg.truth.dropout_date].to_numpy(),
                             calibration_end)
    return alive, None


def backtest(orders: pd.DataFrame, step: ClvModelStep, calibration_end: date, holdout_days: int | None,
             alive_for: Any = None, learn: pd.Index | None = None) -> dict[str, Any]:
    """Refit on the calibration window and score the holdout; ``alive_for(index)`` gives the truth,
    ``learn`` the customers the production fit filter keeps (None: all)."""
    cfg = step.evaluation
    assert cfg is not None
    summary, holdout = ev.calibration_holdout(orders, customer=cfg.customer, date=cfg.date,
                                              calibration_end=calibration_end, holdout_days=holdout_days,
                                              value=cfg.value)
    alive, note = alive_for(summary.index) if alive_for else (None, "no truth file configured")
    unit = 7.0 if step.time_unit == "weeks" else 1.0
    for col in ("recency", "T"):
        summary[col] = summary[col] / unit
    mask = None if learn is None else summary.index.isin(learn)
    report = compare.evaluate_all(summary, float(holdout) / unit, learn=mask, alive=alive, setting=step.model,
                                  min_repeat_customers=step.min_repeat_customers, max_iterations=step.max_iterations,
                                  level=step.intervals.level, draws=step.intervals.draws, seed=step.intervals.seed)
    report.update({
        "calibration_end": str(calibration_end), "holdout_days": holdout,
        "holdout_end": str((pd.Timestamp(calibration_end) + pd.Timedelta(days=holdout)).date()),
        "orders_table": cfg.orders, "truth_note": note, "fit_filter": step.fit_filter,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return report


def _fmt(value: Any, pattern: str = "{:,.3f}") -> str:
    return "—" if value is None else pattern.format(value)


def _claim(coverage: dict[str, Any], what: str) -> str:
    got, claim = coverage.get(f"{what}_predictive"), coverage.get(f"{what}_predictive_claimed")
    return "—" if got is None else f"{got:.1%} ({claim:.1%})" if claim is not None else f"{got:.1%}"


def report_lines(report: dict[str, Any]) -> list[str]:
    """The evaluation as a table: every family, the two baselines, orders and money, coverage."""
    width = max(30, *(len(e["label"]) + 2 for e in [*report["models"].values(), *report["baselines"].values()]))
    lines = [
        f"clv evaluation of {report['spec']}: calibration to {report['calibration_end']}, "
        f"holdout {report['holdout_days']} days (to {report['holdout_end']}), {report['customers']:,} customers"
        + (f" ({report['excluded_by_fit_filter']:,} left out by the fit filter)" if report.get("excluded_by_fit_filter") else ""),
        f"  chosen: {report.get('chosen') or 'none'} — {report.get('chosen_reason')}",
        f"  {'':<{width}}{'orders MAE':>11}{'RMSE':>8}{'agg %':>8}{'Gini':>7}{'money MAE':>11}{'agg %':>8}{'Gini':>7}"
        f"{'cover o':>9}{'cover $':>9}{'pred o (claim)':>15}{'pred $ (claim)':>15}",
    ]
    rows = [(e["label"] + (" *" if k == report.get("chosen") else ""), e) for k, e in report["models"].items()]
    rows += [(e["label"], e) for e in report["baselines"].values()]
    for label, e in rows:
        o, mo, cov = e.get("orders") or {}, e.get("money") or {}, e.get("coverage") or {}
        if not o:
            lines.append(f"  {label:<{width}}not fitted: {e.get('message')}")
            continue
        lines.append(f"  {label:<{width}}{_fmt(o.get('mae')):>11}{_fmt(o.get('rmse')):>8}"
                     f"{_fmt(o.get('aggregate_error_pct'), '{:+.1f}'):>8}{_fmt(o.get('gini'), '{:.3f}'):>7}"
                     f"{_fmt(mo.get('mae'), '{:,.2f}'):>11}{_fmt(mo.get('aggregate_error_pct'), '{:+.1f}'):>8}"
                     f"{_fmt(mo.get('gini'), '{:.3f}'):>7}{_fmt(cov.get('orders'), '{:.1%}'):>9}"
                     f"{_fmt(cov.get('money'), '{:.1%}'):>9}{_claim(cov, 'orders'):>15}{_claim(cov, 'money'):>15}")
    level = f"{report.get('interval_level', 0.8):.0%}"
    lines.append(f"  cover o / cover $: inside the {level} interval of the expectation; pred o / pred $: inside the "
                 f"{level} predictive interval of the actual value, (claim): the share the model itself puts inside "
                 "(coverage_note in the saved report says why both)")
    best = report["models"].get(report.get("chosen") or "", {})
    for group in best.get("calibration") or []:
        truth = "true_alive" in group
        if group["group"] == 1:
            lines.append("  P(alive) calibration of the chosen model (group: predicted P(alive) / observed share active"
                         + (" / true share alive)" if truth else ")"))
        lines.append(f"    {group['group']:>2}: {group['predicted_p_alive']:.3f} / {group['observed_active']:.3f}"
                     + (f" / {group['true_alive']:.3f}" if truth else "") + f"  ({group['customers']:,} customers)")
    if report.get("auc_p_alive") is not None or report.get("auc_recency_baseline") is not None:
        lines.append(f"  AUC of p_alive vs truth {_fmt(report.get('auc_p_alive'))}, recency baseline "
                     f"{_fmt(report.get('auc_recency_baseline'))}")
    else:
        lines.append(f"  AUC of p_alive: not computed ({report.get('truth_note')})")
    return lines
