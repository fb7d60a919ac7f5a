"""Incremental silver and gold: which part of a table to recompute, and how to merge it back.

A spec with ``incremental: {by: C}`` or ``{affected_keys: K}`` compares the input versions its
committed table was built from (recorded in its manifest) with the inputs' current versions.
Every committed version says what it changed against the version before (``change`` in its
manifest): ``full``, a ``range`` (rows whose ``column`` is at or after ``since``, or null), or
``keys`` (the entities listed under ``<table>/_changes/vNNNNNN``). From those:

- ``by: C``  — the part is every C from the earliest touched date on (minus ``lookback_days``),
  nulls included; the driving inputs are read from that date on;
- ``affected_keys: K`` — the part is the K values of the new or changed rows of the driving
  inputs; the driving inputs are read for those entities only.

The recomputed rows replace exactly that part of the committed table (and of its quarantine);
the new version records its own change, so the spec downstream reads only what moved. A full
pass happens, with its reason in the run record, on the first build, on ``--full-refresh``,
when the spec itself changed, when an input read whole changed or its history was pruned, and
when a step depends on all rows (:mod:`engine.plan.incremental`). An input that carries the grain
and was rebuilt fully is compared with the version the table was built from, per grain value
(row count and order-free hash), so only the values whose rows differ are recomputed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from engine.io.lake import Lake, PendingWrite, TableVersion
from engine.plan.columns import Col, Frame
from engine.plan.incremental import analyse
from engine.run.incremental import LoadMode, _time
from engine.run.outputs import written_rows
from engine.steps.counting import ObservedMetrics

FULL: dict[str, Any] = {"kind": "full"}


@dataclass
class Part:
    """What this run recomputes of a silver/gold incremental spec."""

    mode: str  # full | range | keys | up_to_date
    reason: str
    grain: list[str]
    driving: set[str] = field(default_factory=set)
    start: date | datetime | None = None  # range: first recomputed value of `by`
    keys: DataFrame | None = None  # keys: the affected entities (distinct grain values)
    keys_path: Any = None
    pending: PendingWrite | None = None  # the main table's version, claimed early to hold the keys
    affected: int | None = None
    key_steps: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # trims of an input's keys

    def record(self) -> dict[str, Any]:
        """The run record's ``incremental`` entry (counts are added by the stages)."""
        out: dict[str, Any] = {"mode": self.mode, "note": self.reason}
        if self.start is not None:
            out["since"] = self.start.isoformat()
        if self.affected is not None:
            out["affected_keys"] = self.affected
        return out

    def change(self) -> dict[str, Any]:
        """What the new version changed, for the specs downstream."""
        if self.mode == "range":
            return {"kind": "range", "column": self.grain[0], "since": self.start.isoformat()}  # type: ignore[union-attr]
        if self.mode == "keys":
            return {"kind": "keys", "columns": list(self.grain)}
        return dict(FULL)


_NOT_LOGIC = {"description", "columns", "dashboard", "tags", "tests", "schedule", "retry"}


def fingerprint(spec: Any) -> str:
    """The spec's logic as it ran (variables resolved): an edited step or variable rebuilds the
    table; documentation, tests, schedule and retry do not change a row, so they are left out."""
    return hashlib.sha256(spec.model_dump_json(exclude=_NOT_LOGIC).encode("utf-8")).hexdigest()[:16]


def digest_observer(frame: DataFrame) -> ObservedMetrics:
    """Rows and an order-free hash of their content, observed while the table is written.

    Two versions with the same digest hold the same rows (as a multiset), so a table rebuilt
    fully with nothing new (a dimension re-read every day) does not count as changed. Load
    metadata that differs on every run (``_ingested_at``, ``_run_id``) is left out.
    """
    columns = [F.to_json(F.col(f"`{f.name}`")) if isinstance(f.dataType, MapType) else F.col(f"`{f.name}`")
               for f in frame.schema.fields if f.name not in ("_ingested_at", "_run_id")]
    row_hash = F.xxhash64(*columns) if columns else F.lit(0)
    return ObservedMetrics(frame, [F.count(F.lit(1)).alias("rows"),
                                   F.sum(row_hash.cast("decimal(38,0)")).cast("string").alias("hash")])


def digest_of(observed: ObservedMetrics) -> str:
    """The digest text recorded in the manifest."""
    found = observed.values()
    return f"{found['rows']}:{found['hash'] or 0}"


def _frame_of(version: TableVersion) -> Frame:
    return {c["name"]: Col(c.get("type")) for c in version.columns}


def plan(spark: Any, lake: Lake, spec: Any, loaded: Any, mode: LoadMode,
         current: TableVersion | None) -> Part:
    """Decide the part to recompute (a full pass names its reason)."""
    inc = spec.incremental
    grain = inc.grain
    versions = {t: lake.require(t) for t in spec.input_tables}

    def full(reason: str) -> Part:
        return Part("full", f"full pass: {reason}", grain)

    if mode.kind == "full":
        return full("--full-refresh")
    if current is None:
        return full("first build")
    if current.fingerprint != fingerprint(spec):
        return full("the spec or its variables changed since version "
                    f"{current.version}" if current.fingerprint else "the committed version predates incremental runs")
    if set(current.inputs) != set(versions):
        return full(f"version {current.version} was built from other inputs")
    changes_of: dict[str, list[dict[str, Any]]] = {}
    for alias, table in spec.inputs.items():
        now, then = versions[table].version, current.inputs[table]
        changes = _changes_since(lake, table, then, now) if now != then else []
        if isinstance(changes, str):
            return full(changes)
        if changes:
            changes_of[alias] = changes
    if not changes_of:
        return Part("up_to_date", f"up to date: no input changed since version {current.version}", grain)
    locality = analyse(loaded, {a: _frame_of(versions[t]) for a, t in spec.inputs.items()})
    if locality.full_pass:
        return full(locality.full_pass)
    changed_rows: list[DataFrame] = []
    starts: list[Any] = []
    compared: list[str] = []
    for alias, changes in changes_of.items():
        table = spec.inputs[alias]
        rebuilt = [c["version"] for c in changes if c["kind"] == "full"]
        if alias not in locality.driving:
            if rebuilt:
                return full(f"input {table} was rebuilt fully (version {rebuilt[0]})")
            if changes:
                return full(f"input '{alias}' ({table}) changed and is read whole (it has no "
                            f"{', '.join(grain)})")
            continue
        frames = _Versions(spark, lake, table, versions[table], current.inputs[table])
        if rebuilt:  # what changed is found by comparing the two versions, per grain value
            found = _diffed(frames, grain, locality.key_steps.get(alias, {}))
            if isinstance(found, str):
                return full(found)
            changed_rows.append(found)
            compared.append(f"input {table} was rebuilt fully (version {rebuilt[0]}): its rows were compared "
                            f"with version {frames.then} per {', '.join(grain)}")
            continue
        for change in changes:
            if inc.by and change["kind"] == "range" and change["column"].lower() == inc.by.lower():
                frame = frames.now()
                kind = next(f.dataType.simpleString() for f in frame.schema.fields if f.name.lower() == inc.by.lower())
                starts.append(_as_start(change["since"], kind))
                continue
            found = _changed(frames, change, grain, locality.key_steps.get(alias, {}))
            if isinstance(found, str):
                return full(found)
            changed_rows.append(found)
    part = _part(inc, grain, locality.driving, starts, changed_rows)
    part.key_steps = locality.key_steps
    if compared:
        part.reason += f" ({'; '.join(compared)})"
    return part


def _diffed(frames: "_Versions", grain: list[str], steps: dict[str, tuple[str, ...]]) -> DataFrame | str:
    """An input rebuilt fully: the grain values whose rows differ between the version the committed
    table was built from and the input now — per value, the row count and an order-free hash of
    the rows (the manifests' digest, per grain value; load metadata left out)."""
    before = frames.before()
    if isinstance(before, str):
        return before.replace("its removed rows are unknown", "a full rebuild cannot be compared")
    now = frames.now()
    if sorted(before.columns) != sorted(now.columns):
        return f"input {frames.table} was rebuilt fully with other columns (version {frames.current.version})"

    def per_value(frame: DataFrame, tag: str) -> DataFrame:
        content = [F.to_json(F.col(f"`{f.name}`")) if isinstance(f.dataType, MapType) else F.col(f"`{f.name}`")
                   for f in sorted(frame.schema.fields, key=lambda f: f.name)
                   if f.name not in ("_ingested_at", "_run_id")]
        keys = [c.alias(f"{tag}{g}") for g, c in zip(grain, grain_of(frame, grain, steps))]
        return (frame.select(*keys, F.xxhash64(*content).cast("decimal(38,0)").alias("__h"))
                .groupBy(*[f"{tag}{g}" for g in grain])
                .agg(F.count(F.lit(1)).alias(f"{tag}n"), F.sum("__h").alias(f"{tag}s")))

    a, b = per_value(before, "a_"), per_value(now, "b_")
    on = None
    for g in grain:
        term = a[f"a_{g}"].eqNullSafe(b[f"b_{g}"])
        on = term if on is None else on & term
    same = a["a_n"].eqNullSafe(b["b_n"]) & a["a_s"].eqNullSafe(b["b_s"])
    joined = a.join(b, on, "full_outer")
    return joined.filter(~same).select(*[F.coalesce(F.col(f"a_{g}"), F.col(f"b_{g}")).alias(g) for g in grain])


def _part(inc: Any, grain: list[str], driving: set[str], starts: list[Any], changed: list[DataFrame]) -> Part:
    if inc.by:
        if changed:
            low = changed[0]
            for more in changed[1:]:
                low = low.unionByName(more)
            starts.extend(v for v in (low.agg(F.min(inc.by)).first()[0],) if v is not None)
        if not starts:  # only rows without a date changed: those are recomputed on every run
            return Part("range", f"recomputed the rows without {inc.by}", grain, driving, start=date(9999, 12, 31))
        start = min(starts) - timedelta(days=inc.lookback_days)
        return Part("range", f"recomputed {inc.by} from {start.isoformat()} on", grain, driving, start=start)
    keys = changed[0]
    for more in changed[1:]:
        keys = keys.unionByName(more)
    return Part("keys", "recomputed the entities with new or changed input rows", grain, driving,
                keys=keys.distinct())


def _as_start(since: str, kind: str) -> date | datetime:
    moment = datetime.fromisoformat(since)
    return moment.date() if kind == "date" else moment


def _changes_since(lake: Lake, table: str, then: int, now: int) -> list[dict[str, Any]] | str:
    """The change records of versions then+1 .. now of an input, or why they cannot be used."""
    before, after = lake.manifest(table, then), lake.manifest(table, now)
    if before is not None and after is not None and before.digest and before.digest == after.digest:
        return []  # rebuilt, but the same rows
    if now < then:
        return f"input {table} was rolled back (version {then} -> {now})"
    found = []
    oldest = min(lake.kept(table), default=now)
    for version in range(then + 1, now + 1):
        manifest = lake.manifest(table, version)
        if manifest is None:
            if version > oldest:
                continue  # a number whose write never committed (its writer died): no change
            return f"version {version} of input {table} is no longer kept (its change is unknown)"
        change = manifest.change or FULL
        if change["kind"] == "none":
            continue
        found.append(change | {"version": version})
    return found


class _Versions:
    """An input's current version and the version the committed table was built from, read lazily."""

    def __init__(self, spark: Any, lake: Lake, table: str, now: TableVersion, then: int):
        self.spark, self.lake, self.table, self.current, self.then = spark, lake, table, now, then

    def now(self) -> DataFrame:
        return self.spark.read.option("basePath", self.current.path).parquet(self.current.path)

    def before(self) -> DataFrame | str:
        """The rows as the committed table saw them: a row removed since is found there."""
        old = self.lake.manifest(self.table, self.then)
        if old is None:
            return f"version {self.then} of input {self.table} is no longer kept (its removed rows are unknown)"
        return self.spark.read.option("basePath", old.path).parquet(old.path)


def grain_of(frame: DataFrame, grain: list[str], steps: dict[str, tuple[str, ...]]) -> list[Column]:
    """The grain values of an input's rows as the output will have them (after its key trims)."""
    from engine.steps.transform import blank_as_null

    funcs = {"trim": F.trim, "blank_as_null": blank_as_null}
    out = []
    for g in grain:
        value = frame[g]
        for name in steps.get(g, ()):
            value = funcs[name](value)
        out.append(value.alias(g))
    return out


def _changed(frames: _Versions, change: dict[str, Any], grain: list[str],
             steps: dict[str, tuple[str, ...]]) -> DataFrame | str:
    """The grain values of the rows of an input that one change record says may be new, changed
    or removed: rows of the input now, and of the version the committed table was built from
    (an entity whose rows left the input must be recomputed too)."""
    kind = change["kind"]
    if kind == "run":  # bronze: the rows this run added, and the stored rows it replaced (audited)
        now = frames.now()
        rows = now.filter(F.col("_run_id") == change["run_id"]).select(*grain_of(now, grain, steps))
        if change.get("superseded"):
            audit = frames.lake.current(change["superseded"])
            if audit is not None:
                old = frames.spark.read.parquet(audit.path).filter(F.col("_superseded_by_run") == change["run_id"])
                rows = rows.unionByName(old.select(*grain_of(old, grain, steps)))
        return rows
    if kind == "keys":
        keys = frames.spark.read.parquet(str(frames.lake.changes_location(frames.table, change["version"])))
        if {g.lower() for g in grain} <= {c.lower() for c in change["columns"]}:
            return keys.select(*grain_of(keys, grain, steps))  # the entities are the grain itself

        def pick(frame: DataFrame) -> DataFrame:
            return frame.join(keys, _null_safe(frame, keys, change["columns"]), "left_semi")
    else:
        column = change["column"]
        since = datetime.fromisoformat(change["since"])  # as incremental.window compares the watermark

        def pick(frame: DataFrame) -> DataFrame:
            return frame.filter(_time(column).isNull() | (_time(column) >= F.lit(since)))
    before = frames.before()
    if isinstance(before, str):
        return before
    now = pick(frames.now())
    rows = now.select(*grain_of(now, grain, steps))
    old = pick(before)
    return rows.unionByName(old.select(*grain_of(old, grain, steps)))


def _null_safe(left: DataFrame, right: DataFrame, columns: list[str]) -> Column:
    cond = None
    for c in columns:
        term = left[c].eqNullSafe(right[c])
        cond = term if cond is None else cond & term
    return cond


def claim_keys(part: Part, lake: Lake, table: str) -> None:
    """Write the affected keys once, under the new version's change folder, and read them back.

    The main table's version is claimed here (the stages reuse it), so the keys are part of the
    same commit and are removed with it if the spec fails.
    """
    if part.mode != "keys":
        return
    part.pending = lake.begin(table)
    part.keys_path = lake.changes_location(table, part.pending.version)
    assert part.keys is not None
    part.keys.write.mode("overwrite").parquet(str(part.keys_path))
    part.keys = part.keys.sparkSession.read.parquet(str(part.keys_path))
    part.affected = written_rows(part.keys.sparkSession, part.keys_path)


def select(part: Part, frame: DataFrame, alias: str | None = None) -> DataFrame:
    """The rows of ``frame`` inside the part (a driving input named ``alias``, or the spec's output)."""
    if part.mode == "range":
        column = F.col(part.grain[0])
        return frame.filter(column.isNull() | (column >= F.lit(part.start)))
    if part.mode == "keys":
        assert part.keys is not None
        steps = part.key_steps.get(alias or "", {})
        if not steps:
            return frame.join(part.keys, _null_safe(frame, part.keys, part.grain), "left_semi")
        marked = frame.select("*", *[c.alias(f"__k_{g}") for g, c in zip(part.grain, grain_of(frame, part.grain, steps))])
        cond = None
        for g in part.grain:
            term = marked[f"__k_{g}"].eqNullSafe(part.keys[g])
            cond = term if cond is None else cond & term
        return marked.join(part.keys, cond, "left_semi").drop(*[f"__k_{g}" for g in part.grain])
    return frame


def outside(part: Part, stored: DataFrame) -> DataFrame:
    """The committed rows the recomputed part does not replace."""
    if part.mode == "range":
        column = F.col(part.grain[0])
        return stored.filter(column.isNotNull() & (column < F.lit(part.start)))
    assert part.keys is not None
    return stored.join(part.keys, _null_safe(stored, part.keys, part.grain), "left_anti")


def quarantine_outside(part: Part, previous: DataFrame, types: dict[str, str]) -> DataFrame:
    """The quarantined rows of earlier runs outside the part (a quarantined row keeps its original
    values as JSON in ``_record``; the grain columns are read from there)."""
    values = {g: F.get_json_object(F.col("_record"), f"$.{g}").cast(types.get(g, "string")) for g in part.grain}
    if part.mode == "range":
        column = values[part.grain[0]]
        return previous.filter(column.isNotNull() & (column < F.lit(part.start)))
    assert part.keys is not None
    keyed = previous.select("*", *[v.alias(f"__k_{g}") for g, v in values.items()])
    cond = None
    for g in part.grain:
        term = keyed[f"__k_{g}"].eqNullSafe(part.keys[g])
        cond = term if cond is None else cond & term
    return keyed.join(part.keys, cond, "left_anti").select(*previous.columns)
