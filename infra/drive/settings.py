"""What one invocation needs, read once from the function's environment (set by the template).

Why the environment: the Lambda has no project on disk; the template writes the bucket, folder,
secret, state machine, topic and the expected CSV headers into the function's configuration.
Nothing here is a secret: the service-account key is fetched from Secrets Manager at run time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DRIVE_ROOT = "https://www.googleapis.com/drive/v3"
SCOPES = ("https://www.googleapis.com/auth/drive.readonly",)


@dataclass(frozen=True)
class Settings:
    """One folder, one bucket, one pipeline."""

    folder_id: str
    raw_bucket: str
    prefix: str
    secret_id: str
    kms_key_id: str
    state_machine_arn: str
    alerts_topic_arn: str
    expected_headers: dict[str, list[str]] = field(default_factory=dict)  # file name -> CSV columns
    drive_root: str = DRIVE_ROOT
    attempts: int = 4
    max_wait_seconds: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        missing = [k for k in ("DRIVE_FOLDER_ID", "RAW_BUCKET", "DRIVE_SECRET_ID", "KMS_KEY_ID",
                               "STATE_MACHINE_ARN", "ALERTS_TOPIC_ARN") if not env.get(k)]
        if missing:
            raise ValueError(f"the function's environment lacks {', '.join(missing)} (set by the template)")
        return cls(folder_id=env["DRIVE_FOLDER_ID"], raw_bucket=env["RAW_BUCKET"],
                   prefix=env.get("RAW_PREFIX", "drive").strip("/"), secret_id=env["DRIVE_SECRET_ID"],
                   kms_key_id=env["KMS_KEY_ID"], state_machine_arn=env["STATE_MACHINE_ARN"],
                   alerts_topic_arn=env["ALERTS_TOPIC_ARN"],
                   expected_headers=json.loads(env.get("EXPECTED_HEADERS", "{}")),
                   drive_root=env.get("DRIVE_API_ROOT", DRIVE_ROOT).rstrip("/"),
                   attempts=int(env.get("DRIVE_ATTEMPTS", "4")),
                   max_wait_seconds=float(env.get("DRIVE_MAX_WAIT_SECONDS", "30")))
