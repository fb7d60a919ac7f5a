"""``medallion clv evaluate``: backtest a project's ``clv_model`` step on its own data.

Why a backtest and not the fit's likelihood: a model that fits the past well can still predict
badly. The step's ``evaluation:`` block names the order rows behind the summary; the summary is
rebuilt as of ``--calibration-end`` from the rows up to that date only, the model is refitted,
and its holdout predictions are scored next to the naive baseline (past rate × holdout length).
The report is printed and saved as the run store's ``clv_evaluation`` artefact, which the
dashboard shows.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

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
             alive_for: Any = None) -> dict[str, Any]:
    """Refit on the calibration window and score the holdout; ``alive_for(index)`` gives the truth."""
    cfg = step.evaluation
    assert cfg is not None
    summary, holdout = ev.calibration_holdout(orders, customer=cfg.customer, date=cfg.date,
                                              calibration_end=calibration_end, holdout_days=holdout_days,
                                              value=cfg.value)
    alive, note = alive_for(summary.index) if alive_for else (None, "no truth file configured")
    report = ev.evaluate(summary["frequency"], summary["recency"], summary["T"], summary["actual"], float(holdout),
                         alive=alive, min_repeat_customers=step.min_repeat_customers,
                         max_iterations=step.max_iterations)
    report.update({
        "calibration_end": str(calibration_end), "holdout_days": holdout,
        "holdout_end": str((pd.Timestamp(calibration_end) + pd.Timedelta(days=holdout)).date()),
        "orders_table": cfg.orders, "truth_note": note,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    return report


def _fmt(value: Any, pattern: str = "{:,.3f}") -> str:
    return "—" if value is None else pattern.format(value)


def report_lines(report: dict[str, Any]) -> list[str]:
    """The evaluation as plain lines, every model figure next to the naive baseline's."""
    agg, mae, gini = report["aggregate"], report["mae"], report["gini"]
    model_total, naive_total = agg["model"] or {}, agg["naive"] or {}
    lines = [
        f"clv evaluation of {report['spec']}: calibration to {report['calibration_end']}, "
        f"holdout {report['holdout_days']} days (to {report['holdout_end']}), {report['customers']:,} customers",
        f"  fit: {report['fit']['model']} {'converged' if report['fit']['converged'] else 'NOT fitted'}"
        + (f" — {report['message']}" if not report['fit']['converged'] else
           " " + " ".join(f"{k}={v:.4g}" for k, v in report["fit"]["params"].items())),
        f"  {'':<28}{'model':>12}{'naive':>12}",
        f"  {'holdout repeat purchases':<28}{_fmt(model_total.get('predicted'), '{:,.0f}'):>12}"
        f"{_fmt(naive_total.get('predicted'), '{:,.0f}'):>12}   actual {agg['actual']:,.0f}",
        f"  {'aggregate error %':<28}{_fmt(model_total.get('error_pct'), '{:+.1f}'):>12}"
        f"{_fmt(naive_total.get('error_pct'), '{:+.1f}'):>12}",
        f"  {'MAE per customer':<28}{_fmt(mae['model']):>12}{_fmt(mae['naive']):>12}",
        f"  {'normalized Gini':<28}{_fmt(gini['model']):>12}{_fmt(gini['naive']):>12}",
    ]
    if report.get("auc_p_alive") is not None or report.get("auc_recency_baseline") is not None:
        lines.append(f"  {'AUC of p_alive vs truth':<28}{_fmt(report.get('auc_p_alive')):>12}"
                     f"{_fmt(report.get('auc_recency_baseline')):>12}   (baseline: recency)")
    else:
        lines.append(f"  AUC of p_alive: not computed ({report.get('truth_note')})")
    return lines
