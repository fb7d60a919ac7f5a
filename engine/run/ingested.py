"""Which files a bronze run reads: the files it ingested before are listed in its committed state.

Why: a source delivered as one file per day (``order_items/2024-02-20.csv``) should cost one day
per run, not a parse of every file ever delivered. Like Auto Loader's checkpoint or a Glue job
bookmark, every commit of a spec that reads files records in its manifest (``files``) each file
it has ingested — name relative to the read's root, size and modification time — and the next
run lists the files again and reads only the new and the changed ones:

- a watermark spec (``column``/``keys``) reads a new file whole (none of its rows was seen, so no
  window applies, not even to a late file of an old day) and a changed file — one file that grows
  and is re-delivered — through the watermark window, as before; unchanged files are skipped;
- a ``files: new`` spec (no time column) appends the rows of its new files; a file that changed
  or is gone rebuilds the table from every file present, so the table always equals what
  ``--full-refresh`` reads;
- nothing new or changed: the spec is *up to date*, nothing is read, written or committed.

Every file is read, as before this manifest existed, on the first build, on ``--full-refresh``,
when the spec's logic changed, when a read points at another folder than the committed version's,
and when that version predates the manifest. ``--backfill`` reads every file through its window
and leaves the manifest as it was (rows outside the window were not loaded, so their files do
not count as ingested). Listing goes through Hadoop's FileSystem, the one Spark reads with, so a
local folder and an ``s3://`` prefix behave alike and a glob means what it means to Spark; like
Spark, names that start with ``_`` or ``.`` are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from engine.io.lake import TableVersion
from engine.run import incremental
from engine.run.incremental import LoadMode
from engine.run.outputs import local_time
from engine.spec.steps import ReadStep

_GLOB = set("*?[{")


@dataclass(frozen=True)
class SourceFile:
    """One file a read step lists."""

    name: str  # relative to the read's root: the manifest's key
    location: str  # what the reader is given
    uri: str  # its rows' _source_file (input_file_name()), as file:/ for a local file
    size: int
    mtime: int  # milliseconds since the epoch

    @property
    def stamp(self) -> list[int]:
        """What the manifest remembers of the file: a change of either means a re-delivery."""
        return [self.size, self.mtime]


@dataclass
class ReadPlan:
    """One read step: the files listed now, and those this run reads."""

    root: str
    listed: list[SourceFile]
    read: list[SourceFile]
    changed: list[SourceFile] = field(default_factory=list)  # read, but ingested before with another stamp


@dataclass
class FilePlan:
    """What a bronze spec reads this run, and the manifest its commit records."""

    mode: str  # new_files | all_files | up_to_date
    note: str
    steps: dict[str, ReadPlan]  # by the read step's path as written
    previous: dict[str, Any] | None = None
    keep_manifest: bool = False  # backfill: nothing counts as ingested

    @property
    def rebuild(self) -> bool:
        """Every file is read, so nothing stored is merged (files: new) or the window applies to all."""
        return self.mode == "all_files"

    def chosen(self) -> dict[str, list[str]]:
        """The files each read step is given (the step's path as written -> locations)."""
        return {path: [f.location for f in plan.read] for path, plan in self.steps.items()
                if plan.listed or not self.rebuild}  # nothing there at all: Spark names the missing path

    def manifest(self) -> dict[str, Any] | None:
        """The ``files`` entry of the new version: every file ingested so far, per read step."""
        if self.keep_manifest:
            return self.previous
        out = {}
        for path, plan in self.steps.items():
            before = (self.previous or {}).get(path, {}).get("files", {}) if not self.rebuild else {}
            out[path] = {"root": plan.root, "files": before | {f.name: f.stamp for f in plan.listed}}
        return out

    def record(self) -> dict[str, Any]:
        """The run record's ``incremental`` entry of a bronze spec: what it read."""
        read = sorted(f.name for plan in self.steps.values() for f in plan.read)
        listed = sum(len(plan.listed) for plan in self.steps.values())
        out: dict[str, Any] = {"mode": self.mode, "note": self.note, "files_read": read,
                               "files_skipped": listed - len(read)}
        changed = sorted(f.name for plan in self.steps.values() for f in plan.changed)
        if changed:
            out["files_changed"] = changed
        return out

    def window(self, frame: DataFrame, inc: Any, mode: LoadMode, current: TableVersion | None) -> DataFrame:
        """A watermark spec's rows of this run: new files whole, changed files through the window."""
        if self.mode != "new_files":
            return incremental.window(frame, inc, mode, current)
        changed = [f.uri for plan in self.steps.values() for f in plan.changed]
        if not changed:
            return frame  # every file read is new: each of its rows is new
        if "_source_file" not in frame.columns:  # the files cannot be told apart: the window for all
            return incremental.window(frame, inc, mode, current)
        since = incremental.since(inc, mode, current)
        if since is None:
            return frame
        ts = incremental._time(inc.column)  # noqa: SLF001 - one definition of "the time of a row"
        source = F.regexp_replace(F.col("_source_file"), "^file:/+", "file:/")
        return frame.filter(~source.isin(changed) | ts.isNull() | (ts >= F.lit(since)))


def change(job: Any, superseded_table: str) -> dict[str, Any]:
    """What a bronze commit changed against the version before, for the specs downstream.

    ``run``: exactly the rows this run added (their ``_run_id``), and the stored rows they
    replaced (moved to the ``superseded`` audit table by this run); without ``_run_id``, a
    ``range`` from the earliest time among the added and replaced rows."""
    inc = job.spec.incremental
    if inc is None or job.mode.kind == "full" or job.current is None:
        return {"kind": "full"}
    run = {"kind": "run", "run_id": job.ctx.run_id} if "_run_id" in job.frame.columns else None
    if inc.files:  # the rows of the new files were appended (a rebuild is a full change)
        return run if run and not job.files.rebuild else {"kind": "full"}
    new_files = job.files is not None and job.files.mode == "new_files"
    if job.resolution is None or (job.ctx.incremental_since is None and not new_files):
        return {"kind": "full"}
    rows, since = job.resolution.changed_since()
    if rows == 0 and since is None:
        return {"kind": "none"}
    if run:
        return run | ({"superseded": superseded_table} if job.resolution.superseded_rows() else {})
    if since is None:  # only rows without a time changed: every time is suspect
        return {"kind": "full"}
    return {"kind": "range", "column": inc.column, "since": local_time(since)}


def plan_files(spark: Any, spec: Any, resolve: Any, mode: LoadMode, current: TableVersion | None,
               fingerprint: str) -> FilePlan | None:
    """Decide which files an incremental bronze spec reads (None: it reads no files)."""
    reads = [s for s in spec.steps if isinstance(s, ReadStep)]
    if not reads:
        return None
    listed = {s.path: list_files(spark, resolve(s.path)) for s in reads}
    inc = spec.incremental

    def everything(note: str, keep: bool = False) -> FilePlan:
        plans = {path: ReadPlan(root, files, list(files)) for path, (root, files) in listed.items()}
        return FilePlan("all_files", note, plans, current.files if current else None, keep)

    if mode.kind == "full":
        return everything("--full-refresh: every file read")
    if current is None:
        return everything("first build: every file read")
    if mode.kind == "backfill" and inc.watermark:
        return everything("--backfill: every file read through the window; the manifest is kept", keep=True)
    again = "every file read" + (" through the watermark window" if inc.watermark else "")
    if not current.files:
        return everything(f"version {current.version} predates the file manifest: {again}")
    if current.fingerprint != fingerprint:
        return everything(f"the spec or its variables changed since version {current.version}: {again}")
    plans: dict[str, ReadPlan] = {}
    for path, (root, files) in listed.items():
        seen = current.files.get(path)
        if seen is None or seen.get("root") != root:
            return everything(f"{path} is not the folder version {current.version} read: {again}")
        known: dict[str, list[int]] = seen.get("files", {})
        new = [f for f in files if f.name not in known]
        changed = [f for f in files if f.name in known and list(known[f.name]) != f.stamp]
        gone = sorted(set(known) - {f.name for f in files})
        if inc.files and (changed or gone):
            what = f"{changed[0].name} changed" if changed else f"{gone[0]} is gone"
            return everything(f"file {what} since version {current.version}: the table is rebuilt from every "
                              "file present")
        plans[path] = ReadPlan(root, files, new + changed, changed)
    new = sum(len(p.read) - len(p.changed) for p in plans.values())
    changed = sum(len(p.changed) for p in plans.values())
    skipped = sum(len(p.listed) for p in plans.values()) - new - changed
    if new + changed == 0:
        return FilePlan("up_to_date", f"up to date: no new or changed file since version {current.version} "
                        f"({skipped} ingested file(s) unchanged)", plans, current.files)
    note = f"read {new} new file(s)" + (f" and {changed} changed (through the watermark window)" if changed else "")
    return FilePlan("new_files", f"{note}; {skipped} ingested file(s) unchanged, skipped", plans, current.files)


def list_files(spark: Any, path: str) -> tuple[str, list[SourceFile]]:
    """The files Spark would read for ``path`` (a file, a folder, or a glob), and their root: the
    folder the manifest's names are relative to."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop's FileSystem has no Python binding
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # noqa: SLF001
    cut = min((i for i, ch in enumerate(path) if ch in _GLOB), default=None)
    statuses = list(fs.globStatus(hpath) or [])
    if cut is not None:
        base = path[:cut].rsplit("/", 1)[0] or "/"
    elif len(statuses) == 1 and statuses[0].isDirectory():
        base = path
    else:
        base = path.rsplit("/", 1)[0] or "/"
    root = fs.makeQualified(jvm.org.apache.hadoop.fs.Path(base)).toString().rstrip("/")
    found: dict[str, SourceFile] = {}
    for status in statuses:
        if status.isFile():
            _add(found, status, root)
            continue
        files = fs.listFiles(status.getPath(), True)
        while files.hasNext():
            _add(found, files.next(), root)
    return root, [found[name] for name in sorted(found)]


def _add(found: dict[str, SourceFile], status: Any, root: str) -> None:
    location = status.getPath().toString()
    name = location[len(root) + 1:] if location.startswith(root + "/") else location
    if any(part.startswith(("_", ".")) for part in name.split("/")):
        return  # Spark skips hidden and underscore files (_SUCCESS, .crc)
    uri = re.sub("^file:/+", "file:/", status.getPath().toUri().toString())  # input_file_name() may say file:///
    found[name] = SourceFile(name, location, uri, int(status.getLen()), int(status.getModificationTime()))
