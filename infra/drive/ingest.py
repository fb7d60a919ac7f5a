"""One ingestion run: list the folder, copy what changed, write the manifest, start the pipeline.

Why this order: a copy becomes visible only after its bytes are checked twice (the download
against Drive's md5Checksum, then the uploaded temporary object against the same md5), so the
pipeline can never read half a file; the state (md5 of the last copy per file id) is saved only
after the copies, so a failed run copies the same files again next time; the pipeline starts
only when at least one file changed. A file that keeps failing is reported and skipped, never
blocking the others.

Keys in the raw bucket (``<prefix>`` is ``deploy.drive.prefix``):
    <prefix>/<YYYY-MM-DD>/<run_id>/<file name>   the dated copy (kept)
    <prefix>/<YYYY-MM-DD>/<run_id>/_manifest.json
    <prefix>/latest/<file name>                  the newest copy of each file (what the run reads)
    <prefix>/_state/last_copies.json             file id -> md5, key of the last copy
    <prefix>/_tmp/<run_id>/<file name>           during a copy only
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from tenacity import RetryCallState, retry_if_exception_type, stop_after_attempt, Retrying

from infra.drive.drive_api import DriveClient, DriveFile, session_from_key
from infra.drive.errors import ChecksumMismatch, IngestError, SecretMissing, TransientIngestError, WrongHeader
from infra.drive.settings import Settings

log = logging.getLogger("medallion.drive")


@dataclass
class Outcome:
    """What a run did; returned by the handler and summarised in the log."""

    run_id: str
    status: str = "ok"  # ok | nothing changed | partial | failed
    copied: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    manifest: str | None = None
    execution_arn: str | None = None
    error: str | None = None


def _event(message: str, **fields: Any) -> None:
    """One JSON log line (CloudWatch Logs Insights can filter on the fields)."""
    log.info(json.dumps({"message": message, **fields}, sort_keys=True, default=str))


def _wait(settings: Settings):
    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = getattr(exc, "retry_after", None)
        backoff = min(settings.max_wait_seconds, 0.5 * 2 ** (state.attempt_number - 1))
        return min(settings.max_wait_seconds, after) if after is not None else backoff
    return wait


def _check_header(path: Path, name: str, expected: list[str]) -> None:
    """The first line must name exactly the columns the bronze spec reads, in its order."""
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8-sig", errors="replace")
    columns = [c.strip() for c in next(csv.reader([first]), [])]
    if columns == expected:
        return
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if not missing and not extra:
        raise WrongHeader(f"{name}: header has the columns its bronze spec reads in another order "
                          f"({', '.join(columns[:6])}, ...; expected {', '.join(expected[:6])}, ...)")
    raise WrongHeader(f"{name}: header is not the one its bronze spec reads "
                      f"(missing {missing or 'none'}, unexpected {extra[:5] or 'none'}; "
                      f"expected {len(expected)} columns: {', '.join(expected[:4])}, ...)")


def pipeline_input(run_id: str, manifest: str, raw_prefix: str) -> dict[str, str]:
    """The pipeline execution's input: a new run under the ingestion's run id (no ``only``: not a
    reload, infra/orchestration.py), so the manifest and the pipeline run share one id."""
    return {"trigger": "drive", "run_id": run_id, "manifest": manifest, "raw_prefix": raw_prefix}


class Ingestion:
    """A run over one folder with the given AWS clients (real ones in Lambda, moto in tests)."""

    def __init__(self, settings: Settings, s3: Any, secrets: Any, sns: Any, sfn: Any, now: datetime | None = None):
        self.settings, self.s3, self.secrets, self.sns, self.sfn = settings, s3, secrets, sns, sfn
        self.now = now or datetime.now(timezone.utc)
        self.run_id = self.now.strftime("%Y%m%dT%H%M%S%fZ")[:-4] + "Z"
        self.dated = f"{settings.prefix}/{self.now:%Y-%m-%d}/{self.run_id}"

    # --- state ------------------------------------------------------------------------------------
    @property
    def _state_key(self) -> str:
        return f"{self.settings.prefix}/_state/last_copies.json"

    def _load_state(self) -> dict[str, Any]:
        try:
            body = self.s3.get_object(Bucket=self.settings.raw_bucket, Key=self._state_key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return {}
            raise
        return json.loads(body)

    def _put(self, key: str, body: bytes, content_type: str = "application/json") -> None:
        self.s3.put_object(Bucket=self.settings.raw_bucket, Key=key, Body=body, ContentType=content_type,
                           ServerSideEncryption="aws:kms", SSEKMSKeyId=self.settings.kms_key_id)

    # --- one file ---------------------------------------------------------------------------------
    def _copy(self, drive: DriveClient, item: DriveFile, workdir: Path) -> dict[str, Any]:
        local = workdir / item.id
        retrying = Retrying(stop=stop_after_attempt(self.settings.attempts), wait=_wait(self.settings),
                            retry=retry_if_exception_type(TransientIngestError), reraise=True,
                            before_sleep=lambda s: _event("retrying", file=item.name, attempt=s.attempt_number,
                                                          error=str(s.outcome.exception())))
        md5 = retrying(drive.download, item, local)
        expected = self.settings.expected_headers.get(item.name)
        if expected:
            _check_header(local, item.name, expected)
        bucket = self.settings.raw_bucket
        temp_key = f"{self.settings.prefix}/_tmp/{self.run_id}/{item.name}"
        final_key = f"{self.dated}/{item.name}"
        with local.open("rb") as body:
            self.s3.put_object(Bucket=bucket, Key=temp_key, Body=body, ServerSideEncryption="aws:kms",
                               SSEKMSKeyId=self.settings.kms_key_id, ContentMD5=base64.b64encode(
                                   bytes.fromhex(md5)).decode(), Metadata={"drive-md5": md5, "drive-id": item.id})
        try:
            stored = hashlib.md5(usedforsecurity=False)
            for chunk in self.s3.get_object(Bucket=bucket, Key=temp_key)["Body"].iter_chunks(1 << 20):
                stored.update(chunk)
            if stored.hexdigest() != md5:
                raise ChecksumMismatch(f"{item.name}: the uploaded copy does not match md5 {md5}")
            for key in (final_key, f"{self.settings.prefix}/latest/{item.name}"):
                self.s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": temp_key},
                                    ServerSideEncryption="aws:kms", SSEKMSKeyId=self.settings.kms_key_id,
                                    MetadataDirective="COPY")
        finally:
            self.s3.delete_object(Bucket=bucket, Key=temp_key)
            local.unlink(missing_ok=True)
        return {"file_id": item.id, "name": item.name, "md5": md5, "size": item.size,
                "modified_time": item.modified_time, "run_id": self.run_id, "key": final_key}

    # --- the run ----------------------------------------------------------------------------------
    def _drive(self) -> DriveClient:
        try:
            secret = self.secrets.get_secret_value(SecretId=self.settings.secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise SecretMissing(f"secret {self.settings.secret_id} cannot be read ({code}): create it with the "
                                "service-account JSON key (docs/deploy.md)") from None
        try:
            key = json.loads(secret.get("SecretString") or "")
        except json.JSONDecodeError:
            raise SecretMissing(f"secret {self.settings.secret_id} is not JSON: store the service-account "
                                "key file as it was downloaded") from None
        return DriveClient(session_from_key(key), self.settings.drive_root)

    def run(self) -> Outcome:
        outcome = Outcome(self.run_id)
        try:
            drive = self._drive()
            drive.check_folder(self.settings.folder_id)
            files = list(drive.list_folder(self.settings.folder_id))
        except IngestError as exc:
            outcome.status, outcome.error = "failed", str(exc)
            _event("run failed before any copy", run_id=self.run_id, error=str(exc))
            self._alert(outcome)
            return outcome
        state = self._load_state()
        expected = self.settings.expected_headers
        with tempfile.TemporaryDirectory(prefix="drive-") as tmp:
            for item in files:
                if expected and item.name not in expected:
                    outcome.ignored.append(item.name)
                    continue
                if item.md5 and state.get(item.id, {}).get("md5") == item.md5:
                    outcome.unchanged.append(item.name)
                    continue
                try:
                    entry = self._copy(drive, item, Path(tmp))
                except IngestError as exc:
                    outcome.failed.append({"file_id": item.id, "name": item.name, "error": str(exc)})
                    _event("file failed", run_id=self.run_id, file=item.name, error=str(exc))
                    continue
                outcome.copied.append(entry)
                state[item.id] = {"md5": entry["md5"], "key": entry["key"], "name": item.name}
                _event("copied", run_id=self.run_id, file=item.name, key=entry["key"], size=item.size)
        if outcome.copied:
            manifest = {"run_id": self.run_id, "folder_id": self.settings.folder_id,
                        "created_at": self.now.isoformat(), "files": outcome.copied,
                        "unchanged": outcome.unchanged, "failed": outcome.failed}
            outcome.manifest = f"s3://{self.settings.raw_bucket}/{self.dated}/_manifest.json"
            self._put(f"{self.dated}/_manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode())
            self._put(self._state_key, json.dumps(state, indent=2, sort_keys=True).encode())
            started = self.sfn.start_execution(
                stateMachineArn=self.settings.state_machine_arn, name=f"drive-{self.run_id}",
                input=json.dumps(pipeline_input(self.run_id, outcome.manifest,
                                                f"s3://{self.settings.raw_bucket}/{self.settings.prefix}/latest")))
            outcome.execution_arn = started["executionArn"]
            _event("pipeline started", run_id=self.run_id, execution=outcome.execution_arn)
        outcome.status = ("partial" if outcome.failed and outcome.copied else "failed" if outcome.failed
                          else "ok" if outcome.copied else "nothing changed")
        if outcome.failed:
            self._alert(outcome)
        _event("run finished", run_id=self.run_id, status=outcome.status, copied=len(outcome.copied),
               unchanged=len(outcome.unchanged), failed=len(outcome.failed), ignored=len(outcome.ignored))
        return outcome

    def _alert(self, outcome: Outcome) -> None:
        lines = [f"Drive ingestion run {outcome.run_id}: {outcome.status}"]
        if outcome.error:
            lines.append(f"error: {outcome.error}")
            lines.append("nothing was copied and the pipeline was not started")
        for failure in outcome.failed:
            lines.append(f"file {failure['name']} ({failure['file_id']}) not copied: {failure['error']}")
        if outcome.copied:
            lines.append(f"copied {len(outcome.copied)} file(s); manifest {outcome.manifest}; "
                         f"pipeline execution {outcome.execution_arn}")
        lines.append("the next scheduled run retries every file not copied")
        self.sns.publish(TopicArn=self.settings.alerts_topic_arn, Subject=f"Drive ingestion {outcome.status}"[:100],
                         Message="\n".join(lines))


def result(outcome: Outcome) -> dict[str, Any]:
    """The handler's return value (JSON-serialisable)."""
    return asdict(outcome)
