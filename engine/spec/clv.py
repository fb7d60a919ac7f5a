"""The ``clv_model`` step, as pure data: predictive customer lifetime value from a summary.

The input has one row per customer with the BG/NBD summary — ``frequency`` (repeat purchase
periods), ``recency`` (first to last purchase), ``T`` (first purchase to the end of the
observation) — and optionally ``monetary`` (mean value of the repeat purchases). The step fits
BG/NBD (and Gamma-Gamma when there is a spend column) and adds ``p_alive``,
``expected_orders_<suffix>``, ``expected_order_value`` and ``predicted_clv_<suffix>``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.spec.step_base import StepBase

TimeUnit = Literal["days", "weeks"]
UNIT_DAYS: dict[str, float] = {"days": 1.0, "weeks": 7.0}


class ClvColumns(BaseModel):
    """Which input columns hold the summary (defaults: the literature's names)."""

    model_config = ConfigDict(extra="forbid")
    frequency: str = Field("frequency", description="repeat purchase periods (purchase days - 1 at day grain)")
    recency: str = Field("recency", description="first to last purchase, in time_unit")
    T: str = Field("T", description="first purchase to the end of observation (as-of), in time_unit")
    monetary: str | None = Field("monetary", description="mean value of the repeat purchases; "
                                                         "null: no spend model, no value columns")


class ClvTruth(BaseModel):
    """Where the true alive state of each customer is known (simulated data only)."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="a CSV with one row per customer; skipped when the file does not exist")
    customer: str = Field(description="the customer column")
    alive_at_end: str = Field(description="TRUE/FALSE: alive at the end of the data")
    dropout_date: str = Field(description="the date the customer dropped out (empty: never)")


class ClvEvaluation(BaseModel):
    """What ``medallion clv evaluate`` refits on: the order rows behind the summary.

    The summary is rebuilt at the calibration end from these rows, so the holdout is never seen
    by the fit; purchases are counted at the step's time grain (distinct order days).
    """

    model_config = ConfigDict(extra="forbid")
    orders: str = Field(description="the table of order rows, e.g. a gold fact table")
    customer: str = Field(description="the customer column (rows where it is null are ignored)")
    date: str = Field(description="the purchase date column")
    value: str | None = Field(None, description="the purchase value column (for the spend model)")
    where: str | None = Field(None, description="Spark SQL condition on the order rows")
    truth: ClvTruth | None = None


ModelName = Literal["bgnbd", "mbgnbd", "pareto_nbd", "auto"]


class ClvSelection(BaseModel):
    """How ``model: auto`` chooses: a backtest on the step's own order rows.

    The summary is rebuilt ``holdout_days`` before the last order date from these rows; every
    family is fitted on that calibration window (same ``fit_filter``) and the one with the
    lowest holdout MAE per customer is kept (ties: the higher log-likelihood), then refitted on
    everything.
    """

    model_config = ConfigDict(extra="forbid")
    orders: str = Field(description="a frame of this spec with one row per order (an input or an earlier `as:`)")
    customer: str = Field(description="the customer column, in the orders and in this step's input")
    date: str = Field(description="the purchase date column")
    holdout_days: int = Field(180, ge=7, description="the holdout the families are compared on")


class ClvIntervals(BaseModel):
    """Parameter-uncertainty intervals for expected orders and predicted CLV."""

    model_config = ConfigDict(extra="forbid")
    level: float = Field(0.8, gt=0, lt=1, description="0.8: the 10th and 90th percentiles")
    draws: int = Field(100, ge=10, le=2000, description="parameter sets sampled from the estimate's normal")
    seed: int = Field(19, ge=0, description="same seed, same intervals")


class ClvModelStep(StepBase):
    """Fit a purchase model (+ Gamma-Gamma) on a per-customer summary; add the predictive columns.

    ``model`` is ``bgnbd`` (default), ``mbgnbd``, ``pareto_nbd`` or ``auto`` (chosen by a
    backtest, see :class:`ClvSelection`). Every prediction has an interval (``_low``/``_high``).

    Fitting runs on the driver on the summary compressed to distinct rows; scoring is
    vectorised. With too little data (fewer than ``min_repeat_customers`` repeat customers) or a
    fit that does not converge, the input columns are kept, the predictive columns are null, and
    the step's report (fitted parameters, log-likelihood, convergence, the reason) says why.
    """

    type: Literal["clv_model"]
    model: ModelName = Field("bgnbd", description="the purchase model; auto: the best of the three by backtest")
    selection: ClvSelection | None = Field(None, description="required with model: auto")
    intervals: ClvIntervals = Field(default_factory=ClvIntervals)
    columns: ClvColumns = Field(default_factory=ClvColumns)
    time_unit: TimeUnit = Field("days", description="unit of recency and T")
    horizon: float = Field(365, gt=0, description="prediction horizon, in horizon_unit")
    horizon_unit: TimeUnit | None = Field(None, description="default: time_unit")
    suffix: str | None = Field(None, pattern=r"^[A-Za-z0-9_]+$",
                               description="column suffix, default: the horizon as written (365)")
    annual_discount_rate: float = Field(0.0, ge=0, le=10, description="0.1 = 10% a year; 0 = no discounting")
    fit_filter: str | None = Field(None, description="Spark SQL condition: the customers the models learn from "
                                                     "(default: all); every customer is scored")
    min_repeat_customers: int = Field(100, ge=1, description="below this, the models are not fitted")
    max_iterations: int = Field(1000, ge=1, description="optimiser iterations per fit")
    evaluation: ClvEvaluation | None = Field(None, description="how `medallion clv evaluate` backtests the model")

    @model_validator(mode="after")
    def _distinct_columns(self) -> "ClvModelStep":
        names = [n for n in (self.columns.frequency, self.columns.recency, self.columns.T, self.columns.monetary) if n]
        if len(set(names)) != len(names):
            raise ValueError(f"clv_model: the summary columns must differ (got {', '.join(names)})")
        return self

    @model_validator(mode="after")
    def _auto_needs_selection(self) -> "ClvModelStep":
        if self.model == "auto" and self.selection is None:
            raise ValueError("clv_model: model: auto needs a 'selection:' block (orders, customer, date) "
                             "to backtest the families on")
        return self

    @property
    def column_suffix(self) -> str:
        """``365`` for ``horizon: 365``, ``52.5`` -> ``52_5``, or the explicit ``suffix``."""
        if self.suffix:
            return self.suffix
        text = f"{self.horizon:g}" if self.horizon != int(self.horizon) else str(int(self.horizon))
        return text.replace(".", "_")

    @property
    def horizon_in_time_unit(self) -> float:
        """The horizon in the unit of recency and T (the unit the model is fitted in)."""
        return self.horizon * UNIT_DAYS[self.horizon_unit or self.time_unit] / UNIT_DAYS[self.time_unit]

    @property
    def output_columns(self) -> dict[str, str]:
        """Role -> name of the columns the step adds (value columns only with a spend column)."""
        sfx = self.column_suffix
        out = {"model": "clv_model", "p_alive": "p_alive", "expected_orders": f"expected_orders_{sfx}",
               "expected_orders_low": f"expected_orders_{sfx}_low", "expected_orders_high": f"expected_orders_{sfx}_high"}
        if self.columns.monetary:
            out.update(expected_order_value="expected_order_value", predicted_clv=f"predicted_clv_{sfx}",
                       predicted_clv_low=f"predicted_clv_{sfx}_low", predicted_clv_high=f"predicted_clv_{sfx}_high")
        return out
