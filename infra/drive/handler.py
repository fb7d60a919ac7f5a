"""Lambda entry point: ``infra.drive.handler.handler`` (Python 3.11 runtime).

Reads the settings from the function's environment, makes the AWS clients, runs one ingestion.
The return value is the run's outcome; a run whose every file failed raises so the invocation
shows as an error in CloudWatch metrics as well (the alert has already been sent).
"""

from __future__ import annotations

import logging
from typing import Any

import boto3

from infra.drive.ingest import Ingestion, result
from infra.drive.settings import Settings

logging.getLogger().setLevel(logging.INFO)
for noisy in ("botocore", "urllib3", "google"):  # their DEBUG lines could carry headers
    logging.getLogger(noisy).setLevel(logging.WARNING)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings.from_env()
    outcome = Ingestion(settings, boto3.client("s3"), boto3.client("secretsmanager"), boto3.client("sns"),
                        boto3.client("stepfunctions")).run()
    if outcome.status == "failed":
        raise RuntimeError(f"Drive ingestion {outcome.run_id} failed: {outcome.error or outcome.failed}")
    return result(outcome)
