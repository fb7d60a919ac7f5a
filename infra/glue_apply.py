"""Read the project's Glue resources and apply a plan to them through the Glue API.

Updates use the Glue update calls where the endpoint has them; an endpoint without them
(moto implements no update_job/update_connection) gets delete-then-create.
"""

from __future__ import annotations

from typing import Any, Callable

from botocore.exceptions import ClientError

from infra.glue_plan import Change, Resource
from infra.target import Target
from engine.errors import RunError

_NOT_IMPLEMENTED = ("NotImplemented", "NotImplementedError", "InternalFailure", "500")


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "EntityNotFoundException"


def _get(call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> dict[str, Any] | None:
    try:
        return call(**kwargs)[key]
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def read_current(glue: Any, target: Target, connection_names: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """What exists now: the named resources."""
    current: dict[tuple[str, str], dict[str, Any]] = {}
    found = {
        ("security configuration", target.security_configuration):
            _get(glue.get_security_configuration, "SecurityConfiguration", Name=target.security_configuration),
        ("job", target.job_name): _get(glue.get_job, "Job", JobName=target.job_name),
    }
    for name in connection_names:
        found[("connection", name)] = _get(glue.get_connection, "Connection", Name=name, HidePassword=True)
    current.update({k: v for k, v in found.items() if v is not None})
    return current


def _not_implemented(exc: BaseException) -> bool:
    if isinstance(exc, NotImplementedError):
        return True
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return err.get("Code") in _NOT_IMPLEMENTED or status in ("500", "501")
    return False


def _create(glue: Any, res: Resource) -> None:
    body = dict(res.body)
    if res.kind == "security configuration":
        glue.create_security_configuration(**body)
    elif res.kind == "connection":
        glue.create_connection(ConnectionInput=body)
    else:
        glue.create_job(**body)


def _delete(glue: Any, kind: str, name: str) -> None:
    if kind == "security configuration":
        glue.delete_security_configuration(Name=name)
    elif kind == "connection":
        glue.delete_connection(ConnectionName=name)
    elif kind == "job":
        glue.delete_job(JobName=name)
    elif kind == "workflow":
        glue.delete_workflow(Name=name)
    else:
        glue.delete_trigger(Name=name)


def _update_in_place(glue: Any, res: Resource, current: dict[str, Any] | None) -> bool:
    """Try Glue's update call; False when it cannot be done in place (then delete + create)."""
    body = {k: v for k, v in res.body.items() if k != "Name"}
    if res.kind == "security configuration":
        return False  # immutable in Glue
    try:
        if res.kind == "connection":
            glue.update_connection(Name=res.name, ConnectionInput=res.body)
        else:
            glue.update_job(JobName=res.name, JobUpdate=body)
    except Exception as exc:  # noqa: BLE001 - only "not implemented" falls back
        if _not_implemented(exc):
            return False
        raise
    return True


def apply(glue: Any, changes: list[Change], current: dict[tuple[str, str], dict[str, Any]],
          say: Callable[[str], None]) -> None:
    """Make Glue match the plan, in plan order (dependencies first, deletions last)."""
    for change in changes:
        try:
            if change.action == "create":
                assert change.resource is not None
                _create(glue, change.resource)
            elif change.action == "update":
                assert change.resource is not None
                if not _update_in_place(glue, change.resource, current.get((change.kind, change.name))):
                    _delete(glue, change.kind, change.name)
                    _create(glue, change.resource)
            elif change.action == "delete":
                _delete(glue, change.kind, change.name)
            else:
                continue
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise RunError(f"glue: could not {change.action} {change.kind} {change.name}: "
                           f"{err.get('Code')}: {err.get('Message')}") from exc
        say(change.line())
