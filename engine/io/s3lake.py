"""The lake on S3: the same commit protocol as a local folder, on objects under a prefix.

``s3://<bucket>/<prefix>/<layer>/<name>/v000001/`` holds a version's Parquet files (Spark on
Glue writes them there) and its ``_manifest.json``; ``<layer>/<name>/_current.json`` is the
pointer. One PUT of one object is atomic on S3, and conditional requests make it a
compare-and-swap: ``If-None-Match: *`` creates only if absent (a first commit, the lock, a
version claim), ``If-Match: <etag>`` replaces or deletes only the object a writer read (the
pointer, a stale lock). A lost condition comes back as 412 PreconditionFailed (or 409
ConditionalRequestConflict while another conditional write is in flight) and is reported to
the caller as "condition failed", never as success.
"""

from __future__ import annotations

from typing import Any

from engine.io.aws import CONDITION_CODES, MISSING_CODES, call, client, error_code
from engine.io.lake import Lake
from engine.io.objectstore import Blob

FOLDER_MARKER = "_$folder$"  # empty "folder" objects some Hadoop S3 clients leave beside a prefix


class S3Store:
    """Objects under ``s3://bucket/prefix/``, optionally encrypted with a KMS key."""

    def __init__(self, bucket: str, prefix: str = "", kms_key: str | None = None, s3: Any = None):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.kms_key = kms_key
        self._s3 = s3

    @property
    def s3(self) -> Any:
        """The boto3 S3 client, created on first use (so building a workspace needs no AWS)."""
        if self._s3 is None:
            self._s3 = client("s3")
        return self._s3

    def _full(self, key: str) -> str:
        return "/".join(p for p in (self.prefix, key.strip("/")) if p)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def location(self, key: str) -> str:
        """The ``s3://`` URI of a key: what Spark on Glue writes to and readers are given."""
        return f"s3://{self.bucket}/{self._full(key)}"

    def child(self, prefix: str) -> "S3Store":
        """The same bucket rooted at a sub-prefix (e.g. the run records under ``_runs``)."""
        return S3Store(self.bucket, self._full(prefix), self.kms_key, self._s3)

    def get(self, key: str) -> Blob | None:
        """The object and its ETag, or None when there is none."""
        full = self._full(key)
        try:
            found = call(lambda: self.s3.get_object(Bucket=self.bucket, Key=full), f"reading {self.location(key)}")
        except Exception as exc:
            if error_code(exc) in MISSING_CODES:
                return None
            raise
        return Blob(found["Body"].read(), found["ETag"])

    def put(self, key: str, data: bytes, *, if_match: str | None = None,
            if_absent: bool = False) -> str | None:
        """PUT one object (atomic on S3); with a condition, None when S3 refuses it."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key), "Body": data}
        if self.kms_key:
            args |= {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key}
        if if_absent:
            args["IfNoneMatch"] = "*"
        if if_match is not None:
            args["IfMatch"] = if_match
        try:
            done = call(lambda: self.s3.put_object(**args), f"writing {self.location(key)}")
        except Exception as exc:
            code = error_code(exc)
            if code in CONDITION_CODES or (if_match is not None and code in MISSING_CODES):
                return None
            raise
        return str(done["ETag"])

    def delete(self, key: str, *, if_match: str | None = None) -> bool:
        """DELETE one object; with ``if_match``, False when it changed or is gone."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full(key)}
        if if_match is not None:
            args["IfMatch"] = if_match
        try:
            call(lambda: self.s3.delete_object(**args), f"deleting {self.location(key)}")
        except Exception as exc:
            if error_code(exc) in CONDITION_CODES | MISSING_CODES:
                return if_match is None
            raise
        return True

    def _pages(self, prefix: str, **extra: Any) -> Any:
        paginator = self.s3.get_paginator("list_objects_v2")
        return call(lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix, **extra)),
                    f"listing s3://{self.bucket}/{prefix}")

    def children(self, prefix: str) -> list[str]:
        """Names directly under a prefix ("folders" and objects), sorted."""
        base = self._full(prefix)
        base = base + "/" if base else ""
        names: set[str] = set()
        for page in self._pages(base, Delimiter="/"):
            names.update(p["Prefix"][len(base):].rstrip("/") for p in page.get("CommonPrefixes", []))
            names.update(o["Key"][len(base):] for o in page.get("Contents", []))
        return sorted(n for n in names if n and not n.endswith(FOLDER_MARKER))

    def has_prefix(self, prefix: str) -> bool:
        """Whether any object was written under a prefix (a version's files)."""
        base = self._full(prefix) + "/"
        found = call(lambda: self.s3.list_objects_v2(Bucket=self.bucket, Prefix=base, MaxKeys=1),
                     f"listing s3://{self.bucket}/{base}")
        return bool(found.get("KeyCount"))

    def size(self, prefix: str) -> int:
        """Bytes stored under a prefix, from the listing (no object is read)."""
        base = self._full(prefix) + "/"
        return sum(o["Size"] for page in self._pages(base) for o in page.get("Contents", []))

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object under a prefix (an aborted or pruned version), 1,000 per request."""
        base = self._full(prefix)
        keys = [o["Key"] for page in self._pages(base + "/") for o in page.get("Contents", [])]
        keys.append(base + FOLDER_MARKER)
        for start in range(0, len(keys), 1000):
            batch = {"Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True}
            call(lambda b=batch: self.s3.delete_objects(Bucket=self.bucket, Delete=b),
                 f"deleting s3://{self.bucket}/{base}/")


class S3Lake(Lake):
    """Tables under ``s3://bucket/prefix/``; ``root`` is the store (the lock and ``_runs`` live there)."""

    def __init__(self, bucket: str, prefix: str = "lake", kms_key: str | None = None,
                 keep_versions: int = 5, stale_after_seconds: float = 6 * 3600, s3: Any = None):
        super().__init__(S3Store(bucket, prefix, kms_key, s3), keep_versions, stale_after_seconds)
