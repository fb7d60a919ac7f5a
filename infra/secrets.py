"""The secrets the Glue connections name, checked (never printed) after the stack exists.

Glue JDBC connections read ``{"username", "password"}`` JSON secrets. The warehouse one is
made from the stack's generated Redshift password when it is missing, so that password is
typed by nobody; the source database's one belongs to whoever runs that database, so a missing
one is reported with the command that creates it.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from botocore.exceptions import ClientError

from infra.target import Target


def _exists(sm: Any, name: str) -> bool:
    try:
        sm.describe_secret(SecretId=name)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise


def ensure_connection_secrets(sm: Any, target: Target, key_arn: str, say: Callable[[str], None]) -> list[str]:
    """Create the warehouse connection secret if it can be; return the names still missing."""
    missing = []
    wh = target.warehouse
    if wh is not None:
        name = target.secret_name("connections/warehouse")
        source = target.secret_name("redshift_password")
        if not _exists(sm, name):
            if _exists(sm, source):
                password = sm.get_secret_value(SecretId=source)["SecretString"]
                sm.create_secret(Name=name, KmsKeyId=key_arn, Description="Glue connection to Redshift",
                                 SecretString=json.dumps({"username": wh.user, "password": password}))
                say(f"created   secret {name} (from {source})")
            else:
                missing.append(name)
    if target.config.source is not None:
        name = target.secret_name(target.source_secret)
        if not _exists(sm, name):
            missing.append(name)
    for name in missing:
        say(f"warning: secret {name} does not exist; create it before the first run: aws secretsmanager "
            f"create-secret --name {name} --kms-key-id alias/{target.prefix} "
            "--secret-string file://credentials.json  (JSON: username, password)")
    return missing
