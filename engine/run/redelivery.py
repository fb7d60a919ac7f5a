"""Re-delivery semantics of incremental specs: what a key that arrives again means.

Sources re-send rows: the re-read window overlaps the last run, a file is delivered twice, an
order line is re-sent with a corrected price. The spec declares ``incremental.on_duplicate``:

- ``latest`` (default): per key, the newest delivery wins — a row read in this run beats the
  stored one; within one read, the later source time, then the later file (by name), then the
  later record in the file. Older *different* versions are moved to the audit table
  ``<table>__superseded`` with the reason (what replaced them, which columns changed).
- ``keep_all``: every distinct version of a key is kept.
- ``fail``: a key delivered again with different values stops the spec (nothing is committed).

In every mode rows identical in every source column collapse into one (the stored copy is kept,
so re-reading a window changes nothing): re-reading is idempotent. Metadata columns
(``_ingested_at``, ``_source_file``, ``_run_id``) are not part of a row's content.

Every row is accounted for: window rows + stored rows = kept + identical copies + superseded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from engine.errors import TerminalError
from engine.spec.models import Incremental
from engine.steps.counting import ObservedMetrics

METADATA = ("_ingested_at", "_source_file", "_run_id")
HASH = "_content_hash"
_ORIGIN, _SEQ, _H, _WIN_H, _WIN, _RANK = "__origin", "__seq", "__h", "__winner_h", "__winner", "__rank"


@dataclass
class Resolution:
    """The merged table, this run's superseded rows, and the counters the write fills in."""

    merged: DataFrame
    superseded: DataFrame | None
    counts: ObservedMetrics
    cached: list[DataFrame] = field(default_factory=list)  # unpersisted when the spec ends

    def identical(self) -> int:
        """Rows dropped as identical copies of a kept row."""
        return int(self.counts.values()["identical"] or 0)

    def superseded_rows(self) -> int:
        """Older versions moved to the audit table."""
        return int(self.counts.values()["superseded"] or 0)

    def changed_since(self) -> tuple[int, str | None]:
        """Rows this commit adds or replaces, and the earliest time among them and the stored
        rows they replace (UTC text; None when that time is null): what changed, for the specs
        downstream. Identical re-deliveries change nothing."""
        found = self.counts.values()
        times = [t for t in (found["replaced_since"], found["new_since"]) if t is not None]
        return int(found["new"] or 0), min(times) if times else None


def _earliest(condition: Column, inc: Incremental) -> Column:
    return F.date_format(F.min(F.when(condition, _time(inc.column))), "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")


def _time(column: str) -> Column:
    return F.coalesce(F.to_timestamp(F.col(column)), F.col(column).cast("timestamp"))


def resolve(new_rows: DataFrame, stored: DataFrame | None, inc: Incremental, run_id: str) -> Resolution:
    """Merge this run's rows into the stored table by the spec's ``on_duplicate`` rule.

    Only the stored rows whose key this run delivers again can be copies, winners or losers; the
    others pass through untouched, so a daily run hashes and ranks its own keys, not the table."""
    columns = new_rows.columns
    content = [c for c in columns if c not in METADATA]
    cached: list[DataFrame] = []
    untouched = None
    if stored is not None:
        new_rows = new_rows.persist()  # read once: its keys choose the stored rows, then it is merged
        cached.append(new_rows)
        delivered = new_rows.select(*[F.col(f"`{k}`").alias(f"__key_{i}") for i, k in enumerate(inc.keys)]).distinct()
        same_key = None
        for i, k in enumerate(inc.keys):
            term = stored[f"`{k}`"].eqNullSafe(delivered[f"__key_{i}"])
            same_key = term if same_key is None else same_key & term
        untouched = stored.select(*columns).join(F.broadcast(delivered), same_key, "left_anti")
        stored = stored.join(F.broadcast(delivered), same_key, "left_semi")
    rows = new_rows.withColumn(_ORIGIN, F.lit(1)).withColumn(_SEQ, F.monotonically_increasing_id())
    if stored is not None:
        rows = rows.unionByName(stored.select(*columns).withColumn(_ORIGIN, F.lit(0))
                                .withColumn(_SEQ, F.lit(0).cast("long")))
    rows = rows.withColumn(_H, F.sha2(F.to_json(F.struct(*[F.col(f"`{c}`") for c in content]),
                                                {"ignoreNullFields": "false"}), 256))
    keys = [F.col(f"`{k}`") for k in inc.keys]
    order = [F.col(_ORIGIN).desc(), _time(inc.column).desc_nulls_last()]
    if "_source_file" in columns:
        order.append(F.col("_source_file").desc_nulls_last())
    order.append(F.col(_SEQ).desc())
    newest = Window.partitionBy(*keys).orderBy(*order).rowsBetween(Window.unboundedPreceding,
                                                                 Window.unboundedFollowing)
    first_copy = Window.partitionBy(*keys, F.col(_H)).orderBy(F.col(_ORIGIN).asc(), F.col(_SEQ).asc())
    rows = (rows.withColumn(_WIN_H, F.first(_H).over(newest))
            .withColumn(_WIN, F.first(F.struct(*[F.col(f"`{c}`") for c in columns])).over(newest))
            .withColumn(_RANK, F.row_number().over(first_copy)))
    identical = F.col(_RANK) > 1
    older = (F.col(_H) != F.col(_WIN_H)) & ~identical
    if inc.on_duplicate == "keep_all":
        older = F.lit(False)
    counts = ObservedMetrics(rows, [F.sum(identical.cast("long")).alias("identical"),
                                    F.sum(older.cast("long")).alias("superseded"),
                                    _earliest(older & (F.col(_ORIGIN) == 0), inc).alias("replaced_since"),
                                    _earliest(~older & ~identical & (F.col(_ORIGIN) == 1), inc).alias("new_since"),
                                    F.sum((~older & ~identical & (F.col(_ORIGIN) == 1)).cast("long")).alias("new")])
    rows = counts.frame
    merged = rows.filter(~identical & ~older).select(*[F.col(f"`{c}`") for c in columns])
    if untouched is not None:
        merged = merged.unionByName(untouched)
    superseded = None
    if inc.on_duplicate == "latest":
        superseded = _audit_rows(rows.filter(older), inc, content, run_id)
    elif inc.on_duplicate == "fail":
        _fail_on_changes(rows.filter((F.col(_H) != F.col(_WIN_H)) & ~identical), inc)
    return Resolution(merged, superseded, counts, cached)


def _audit_rows(older: DataFrame, inc: Incremental, content: list[str], run_id: str) -> DataFrame:
    changed = F.concat_ws(", ", *[F.when(~F.col(f"`{c}`").eqNullSafe(F.col(_WIN)[c]), F.lit(c)) for c in content])
    key_text = F.concat_ws(", ", *[F.coalesce(F.col(f"`{k}`").cast("string"), F.lit("null")) for k in inc.keys])
    by = (F.concat(F.lit(" in "), F.col(_WIN)["_source_file"]) if "_source_file" in older.columns else F.lit(""))
    reason = F.format_string(
        f"re-delivered key ({', '.join(inc.keys)}) = (%s): replaced by a later delivery%s; changed: %s",
        key_text, by, changed)
    return older.select(
        *[F.col(f"`{c}`") for c in older.columns if not c.startswith("__")],
        reason.alias("_superseded_reason"),
        F.lit(run_id).alias("_superseded_by_run"),
        F.current_timestamp().alias("_superseded_at"),
        F.col(_H).alias(HASH),
    )


def _fail_on_changes(changed: DataFrame, inc: Incremental) -> None:
    example = changed.select(*[F.col(f"`{k}`") for k in inc.keys]).limit(1).collect()
    if example:
        values = ", ".join(str(v) for v in example[0])
        raise TerminalError(f"on_duplicate: fail — key ({', '.join(inc.keys)}) = ({values}) was delivered "
                            "again with different values; fix the source, or declare on_duplicate: latest "
                            "(the newest wins, older versions are audited) or keep_all")


def append_audit(previous: DataFrame | None, superseded: DataFrame) -> DataFrame:
    """The audit table after this run: its rows plus versions it does not hold yet."""
    if previous is None:
        return superseded
    fresh = superseded.join(previous.select(HASH).distinct(), HASH, "left_anti")
    return previous.unionByName(fresh, allowMissingColumns=True)
