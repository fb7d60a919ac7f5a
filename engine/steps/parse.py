"""Strict typing of text columns, and keyed tokens for sensitive values.

``parse`` never turns a bad value into null: a value that is present but does not parse sends
its whole row to quarantine with the column, the raw value and the type it failed. ``hmac``
replaces a sensitive column by HMAC-SHA256(key, value) computed with Spark's own sha2/unhex,
so no Python UDF runs per row and the key is resolved only at run time.
"""

from __future__ import annotations

import hashlib
import re

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from engine.errors import SpecError
from engine.spec.quality import HmacStep, ParseColumn, ParseStep
from engine.spec.secrets import resolve_secrets
from engine.steps.context import Loss, StepContext
from engine.steps.counting import ObservedCount
from engine.steps.quarantine import quarantine_rows
from engine.steps.transform import blank_as_null

TIMESTAMP_ISO = "yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX"
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_INTEGRAL = {"int", "integer", "bigint", "long", "smallint", "short", "tinyint", "byte"}
_FLOATING = {"double", "float"}


def parser(raw: Column, how: ParseColumn) -> Column:
    """An expression that is the parsed value, or null when ``raw`` does not parse."""
    kind = how.type.strip().lower()
    if kind in _INTEGRAL:
        return F.when(raw.rlike(r"^[+-]?[0-9]+$"), raw.cast(kind))
    if kind in _FLOATING:
        return F.when(raw.rlike(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"), raw.cast(kind))
    decimal = _DECIMAL.match(kind)
    if decimal:
        scale = int(decimal.group(2))
        fraction = rf"(\.[0-9]{{0,{scale}}})?" if scale else r"(\.0*)?"
        return F.when(raw.rlike(rf"^[+-]?[0-9]+{fraction}$"), raw.cast(kind))
    if kind == "boolean":
        return (F.when(raw.isin(*how.true_values), F.lit(True))
                .when(raw.isin(*how.false_values), F.lit(False)))
    if kind == "date":
        return F.to_date(raw, how.format or "yyyy-MM-dd")
    if kind == "timestamp":
        return F.to_timestamp(raw, how.format or TIMESTAMP_ISO)
    if kind == "string":
        return raw
    raise SpecError(f"parse: unsupported type '{how.type}' (use int, bigint, double, decimal(p,s), "
                    "boolean, date, timestamp or string)")


def run_parse(step: ParseStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Typed columns for the rows that parse; the others to quarantine with the reason."""
    missing = [c for c in step.columns if c not in frame.columns]
    if missing:
        raise ValueError(f"parse: no column {', '.join(missing)} (have: {', '.join(frame.columns)})")
    before = ObservedCount(frame)
    helpers: dict[str, str] = {}
    parsed: list[Column] = []
    problems = []
    for i, (column, how) in enumerate(step.columns.items()):
        raw = blank_as_null(F.col(column)) if step.trim else F.when(F.col(column) != "", F.col(column))
        helpers[column] = f"__parsed_{i}"
        parsed.append(parser(raw, how).alias(helpers[column]))
        problems.append(F.when(raw.isNotNull() & F.col(helpers[column]).isNull(),
                               F.concat(F.lit(f"{column}: cannot parse '"), raw, F.lit(f"' as {how.type}"))))
    reason = "__parse_reason"
    # each value is parsed once (a helper column), then both the reason and the result use it;
    # the annotated rows feed the quarantine write and the output, so they are computed once
    annotated = before.frame.select("*", *parsed).withColumn(reason, F.concat_ws("; ", *problems)).persist()
    ctx.cached.append(annotated)
    bad = annotated.filter(F.col(reason) != "")
    ctx.quarantine.append(quarantine_rows(bad, "parse", F.col(reason), ctx))
    good = annotated.filter(F.col(reason) == "")
    columns = []
    for name in frame.columns:
        if name in step.columns:
            columns.append(F.col(helpers[name]).alias(step.columns[name].rename or name))
        else:
            columns.append(F.col(name))
    after = ObservedCount(good.select(*columns))
    ctx.losses.append(Loss("quarantined", ctx.step_label, before=before, after=after))
    return after.frame


def _hmac_pads(key: bytes) -> tuple[str, str]:
    """Hex of (K' xor ipad) and (K' xor opad) for HMAC-SHA256 (RFC 2104)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()


def hmac_sha256(value: Column, key: bytes) -> Column:
    """HMAC-SHA256 of a string column as lowercase hex, in Spark SQL functions only."""
    inner_pad, outer_pad = _hmac_pads(key)
    message = F.encode(value, "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.unhex(F.lit(inner_pad)), message), 256))
    return F.when(value.isNotNull(), F.sha2(F.concat(F.unhex(F.lit(outer_pad)), inner), 256))


def run_hmac(step: HmacStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """Token (and last digits) in place of the clear value, which is dropped."""
    if step.column not in frame.columns:
        raise ValueError(f"hmac: no column {step.column} (have: {', '.join(frame.columns)})")
    if ctx.secrets is None:
        raise SpecError("hmac: no secret provider is configured for this profile")
    key = resolve_secrets(step.key, ctx.secrets)
    if not key:
        raise SpecError(f"hmac: the key {step.key} is empty")
    value = blank_as_null(F.col(step.column))
    result = frame.withColumn(step.token_column, hmac_sha256(value, str(key).encode("utf-8")))
    if step.last_digits_column:
        result = result.withColumn(step.last_digits_column, F.substring(value, -step.last_digits, step.last_digits))
    return result if step.keep_source else result.drop(step.column)
