"""Who is looking and how fresh the data is: the line under every page title.

Why: on AWS the app sits behind an ALB that authenticates with OIDC and forwards the user's
claims in ``x-amzn-oidc-data`` (a JWT the ALB signed). The page shows the name from it; the
signature is the ALB's business (the app is reachable only through it), so the payload is only
decoded, never trusted for access. "Data as of" is the newest finished run and, where the table
has one, its ``as_of`` date.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from typing import Any, Mapping

LOG = logging.getLogger("dashboards")
OIDC_HEADER = "x-amzn-oidc-data"
NAME_CLAIMS = ("name", "preferred_username", "email", "username", "cognito:username", "sub")


def signed_in_user(headers: Mapping[str, str] | None) -> str | None:
    """The user's display name from the ALB's OIDC header, or None (no header, unreadable)."""
    if not headers:
        return None
    token = next((v for k, v in headers.items() if k.lower() == OIDC_HEADER), None)
    if not token or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError):
        LOG.warning("unreadable %s header ignored", OIDC_HEADER)
        return None
    if not isinstance(claims, dict):
        return None
    return next((str(claims[c]) for c in NAME_CLAIMS if claims.get(c)), None)


def as_of_line(finished_at: str | None, run_id: str | None, data_as_of: Any = None) -> str:
    """``Data as of 2024-06-30 · published 2024-07-01 07:12 UTC (run …)``, or what to run."""
    if not finished_at:
        return "No published run yet: run `medallion run` to build the tables."
    when = datetime.fromisoformat(finished_at).strftime("%Y-%m-%d %H:%M UTC")
    head = f"Data as of **{str(data_as_of)[:10]}** · " if data_as_of is not None else ""
    return f"{head}published {when} (run `{run_id}`)"
