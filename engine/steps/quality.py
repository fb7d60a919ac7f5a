"""The ``quality`` step: rules that state what a good row satisfies, and what happens otherwise.

All rules are evaluated in one pass: each gets an ``ok`` flag column, one aggregation counts
failures per rule (the numbers in the run report), and each row meets the strictest action of
the rules it fails: quarantine beats drop beats warn. ``fail`` rules and thresholds stop the
spec before anything is written.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from engine.errors import TerminalError
from engine.spec.quality import (AcceptedValuesRule, ExistsInRule, ExpressionRule, NotNullRule, QualityStep,
                                 RangeRule, RegexRule, UniqueRule)
from engine.steps.context import Loss, RuleOutcome, StepContext
from engine.steps.counting import ObservedMetrics, aggregate_in_one_job
from engine.steps.quarantine import quarantine_rows


def _text(col: Column) -> Column:
    return F.coalesce(col.cast("string"), F.lit("null"))


def _any(columns: list[Column]) -> Column:
    return reduce(lambda a, b: a | b, columns) if columns else F.lit(False)


def _rule_columns(rule, i: int, work: DataFrame, ctx: StepContext) -> tuple[DataFrame, Column, Column]:
    """(frame with helper columns, good-row condition, reason text for a failing row)."""
    if isinstance(rule, NotNullRule):
        blank = {c: F.col(c).isNull() | (F.trim(F.col(c).cast("string")) == "") for c in rule.columns}
        good = ~_any(list(blank.values()))
        reason = F.concat(F.concat_ws(", ", *[F.when(b, F.lit(c)) for c, b in blank.items()]),
                          F.lit(" is null or blank"))
        return work, good, reason
    if isinstance(rule, UniqueRule):
        helper = f"__dup_{i}"
        keys = ", ".join(f"`{c}`" for c in rule.columns)
        work = work.withColumn(helper, F.expr(f"count(1) OVER (PARTITION BY {keys})"))
        reason = F.concat(F.lit(f"key ({', '.join(rule.columns)}) = ("),
                          F.concat_ws(", ", *[_text(F.col(c)) for c in rule.columns]),
                          F.lit(") appears "), F.col(helper).cast("string"), F.lit(" times"))
        return work, F.col(helper) == 1, reason
    if isinstance(rule, AcceptedValuesRule):
        col = F.col(rule.column)
        good = col.isNull() | col.isin(*rule.values)
        allowed = ", ".join(str(v) for v in rule.values)
        return work, good, F.concat(F.lit(f"{rule.column} = '"), _text(col), F.lit(f"' is not one of [{allowed}]"))
    if isinstance(rule, RangeRule):
        col = F.col(rule.column)
        checks = []
        if rule.min is not None:
            checks.append(col > F.lit(rule.min) if rule.exclusive_min else col >= F.lit(rule.min))
        if rule.max is not None:
            checks.append(col < F.lit(rule.max) if rule.exclusive_max else col <= F.lit(rule.max))
        good = col.isNull() | reduce(lambda a, b: a & b, checks)
        bounds = f"{'(' if rule.exclusive_min else '['}{'' if rule.min is None else rule.min}, " \
                 f"{'' if rule.max is None else rule.max}{')' if rule.exclusive_max else ']'}"
        return work, good, F.concat(F.lit(f"{rule.column} = "), _text(col), F.lit(f" is outside {bounds}"))
    if isinstance(rule, RegexRule):
        col = F.col(rule.column).cast("string")
        good = col.isNull() | col.rlike(f"^(?:{rule.pattern})$")
        return work, good, F.concat(F.lit(f"{rule.column} = '"), _text(col),
                                    F.lit(f"' does not match {rule.pattern}"))
    if isinstance(rule, ExistsInRule):
        other = ctx.frame(rule.frame)
        theirs = rule.frame_columns or rule.columns
        if len(theirs) != len(rule.columns):
            raise ValueError(f"exists_in: {len(rule.columns)} column(s) here but {len(theirs)} in {rule.frame}")
        keys = [f"__key_{i}_{j}" for j in range(len(theirs))]
        flag = f"__exists_{i}"
        lookup = other.select(*[F.col(c).alias(k) for c, k in zip(theirs, keys)]).distinct() \
            .withColumn(flag, F.lit(True))
        cond = reduce(lambda a, b: a & b, [work[c] == lookup[k] for c, k in zip(rule.columns, keys)])
        work = work.join(lookup, cond, "left").drop(*keys)
        reason = F.concat(F.lit(f"({', '.join(rule.columns)}) = ("),
                          F.concat_ws(", ", *[_text(F.col(c)) for c in rule.columns]),
                          F.lit(f") not found in {rule.frame}"))
        return work, F.col(flag).isNotNull(), reason
    if isinstance(rule, ExpressionRule):
        return work, F.expr(rule.condition), F.lit(f"fails: {rule.condition}")
    raise TypeError(f"unknown rule {rule!r}")  # pragma: no cover - the models are closed


def run_quality(step: QualityStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Flag, count, then keep, drop or quarantine rows; fail on fail-rules and thresholds."""
    work = frame
    oks, reasons = [], []
    for i, rule in enumerate(step.rules):
        work, good, reason = _rule_columns(rule, i, work, ctx)
        oks.append(f"__ok_{i}")
        work = work.withColumn(oks[-1], F.coalesce(good, F.lit(False)))
        reasons.append(reason)
    quarantine_idx = [i for i, r in enumerate(step.rules) if r.action == "quarantine"]
    drop_idx = [i for i, r in enumerate(step.rules) if r.action == "drop"]
    to_quarantine = _any([~F.col(oks[i]) for i in quarantine_idx])
    to_drop = ~to_quarantine & _any([~F.col(oks[i]) for i in drop_idx])
    if not quarantine_idx and not drop_idx and not _checks_before_write(step):
        return _warn_only(step, work, oks, frame, ctx)
    work = work.persist()
    ctx.cached.append(work)
    totals = aggregate_in_one_job(work, [F.count(F.lit(1)).alias("rows"), F.count_if(to_quarantine).alias("quarantined"),
                                         F.count_if(to_drop).alias("dropped"),
                                         *[F.count_if(~F.col(ok)).alias(ok) for ok in oks]])
    rows = totals["rows"]
    problems = []
    for i, rule in enumerate(step.rules):
        failed = totals[oks[i]]
        ctx.rules.append(RuleOutcome(ctx.step_label, rule.label, rule.rule, rule.action, rows, failed))
        pct = 100.0 * failed / rows if rows else 0.0
        if rule.action == "fail" and failed:
            problems.append(f"rule {rule.label} failed on {failed} of {rows} rows")
        if rule.max_failed_pct is not None and pct > rule.max_failed_pct:
            problems.append(f"rule {rule.label} failed on {pct:.2f}% of rows (limit {rule.max_failed_pct}%)")
        if rule.max_failed_rows is not None and failed > rule.max_failed_rows:
            problems.append(f"rule {rule.label} failed on {failed} rows (limit {rule.max_failed_rows})")
    quarantined_pct = 100.0 * totals["quarantined"] / rows if rows else 0.0
    if step.max_quarantined_pct is not None and quarantined_pct > step.max_quarantined_pct:
        problems.append(f"{quarantined_pct:.2f}% of rows quarantined (limit {step.max_quarantined_pct}%)")
    if problems:
        raise TerminalError("; ".join(problems))
    helpers = [c for c in work.columns if c.startswith("__") and c not in frame.columns]
    first_rule = F.coalesce(*[F.when(~F.col(oks[i]), F.lit(step.rules[i].label)) for i in quarantine_idx]) \
        if quarantine_idx else F.lit(None)
    why = F.concat_ws("; ", *[F.when(~F.col(oks[i]), reasons[i]) for i in quarantine_idx])
    if quarantine_idx:
        bad = work.filter(to_quarantine).withColumn("__why", why).withColumn("__rule", first_rule)
        ctx.quarantine.append(quarantine_rows(bad.drop(*helpers), F.col("__rule"), F.col("__why"), ctx))
    ctx.losses.append(Loss("quarantined", ctx.step_label, rows=totals["quarantined"]))
    ctx.losses.append(Loss("dropped", ctx.step_label, rows=totals["dropped"]))
    return work.filter(~to_quarantine & ~to_drop).drop(*helpers)


def _checks_before_write(step: QualityStep) -> bool:
    """Whether the counts must be known before the output is written (fail rules, limits)."""
    return step.max_quarantined_pct is not None or any(
        r.action == "fail" or r.max_failed_pct is not None or r.max_failed_rows is not None for r in step.rules)


def _warn_only(step: QualityStep, work: DataFrame, oks: list[str], frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Rules that only warn keep every row: count their failures while the output is written.

    No cache and no extra pass: the counters ride along with the write (an observation) and
    the run record reads them afterwards.
    """
    counts = ObservedMetrics(work, [F.count(F.lit(1)).alias("rows"), *[F.count_if(~F.col(ok)).alias(ok) for ok in oks]])
    for i, rule in enumerate(step.rules):
        ctx.rules.append(RuleOutcome(ctx.step_label, rule.label, rule.rule, rule.action,
                                     counts=counts, key=oks[i]))
    ctx.losses.append(Loss("quarantined", ctx.step_label, rows=0))
    ctx.losses.append(Loss("dropped", ctx.step_label, rows=0))
    helpers = [c for c in work.columns if c.startswith("__") and c not in frame.columns]
    return counts.frame.drop(*helpers)
