"""Metadata helpers shared by the template modules (checkov skips with their reasons)."""

from __future__ import annotations

from typing import Any


def skip(resource: dict[str, Any], check_id: str, comment: str) -> None:
    """Record a checkov skip with its reason in the resource's Metadata (where checkov reads it)."""
    skips = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
    skips.append({"id": check_id, "comment": comment})


def skipped(resource: dict[str, Any]) -> dict[str, str]:
    """The checkov skips of a resource: check id -> reason."""
    return {s["id"]: s["comment"] for s in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])}
