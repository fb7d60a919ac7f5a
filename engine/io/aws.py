"""AWS calls as the engine's errors: throttling and dropped connections are transient and retried.

Every boto3 call of the lake, the lock, the run store and the secret provider goes through
:func:`call`, so one place decides what a failure means: throttling, 5xx and connection errors
become :class:`TransientError` (retried here with jittered backoff, then by the spec's retry
policy), anything else a :class:`RunError` that names what was being done. Clients are created
by boto3 from the environment, so ``AWS_ENDPOINT_URL`` (a moto server, a VPC endpoint) applies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from engine.errors import MedallionError, RunError, TransientError

T = TypeVar("T")

TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "SlowDown", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "ProvisionedThroughputExceededException", "RequestTimeout",
    "RequestTimeoutException", "InternalError", "InternalFailure", "InternalServiceError",
    "ServiceUnavailable", "ServiceUnavailableException",
})
CONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "AlreadyExistsException"})
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound", "ResourceNotFoundException", "EntityNotFoundException"})


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def classify_aws(exc: BaseException, doing: str) -> MedallionError:
    """Turn a boto3/botocore failure into the engine's taxonomy, naming what was being done."""
    import botocore.exceptions as bx

    code = error_code(exc)
    status = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500) or isinstance(
            exc, (bx.ConnectionError, bx.HTTPClientError)):
        return TransientError(f"{doing}: {code or type(exc).__name__} ({exc}); worth retrying")
    if isinstance(exc, bx.NoCredentialsError):
        return RunError(f"{doing}: no AWS credentials (run on AWS with a role, or set AWS_PROFILE)")
    return RunError(f"{doing}: {code or type(exc).__name__}: {exc}")


def call(fn: Callable[[], T], doing: str, *, attempts: int = 4, wait_seconds: float = 0.25) -> T:
    """Run one AWS request, retrying transient failures a few times with jittered backoff.

    Client errors the caller expects (a failed condition, a missing object) are re-raised as
    they are so it can decide; only throttling and connection trouble are retried.
    """
    import botocore.exceptions as bx

    def once() -> T:
        try:
            return fn()
        except bx.ClientError as exc:
            if error_code(exc) in CONDITION_CODES | MISSING_CODES:
                raise
            raise classify_aws(exc, doing) from exc
        except bx.BotoCoreError as exc:
            raise classify_aws(exc, doing) from exc

    retrying = Retrying(stop=stop_after_attempt(attempts), reraise=True,
                        wait=wait_random_exponential(multiplier=wait_seconds, max=5 * max(wait_seconds, 0.01)),
                        retry=retry_if_exception_type(TransientError))
    return retrying(once)


_CLIENTS = threading.Lock()  # boto3's default session is not thread-safe while it makes a client


def client(service: str, existing: Any = None) -> Any:
    """A boto3 client (endpoint, region and credentials from the environment), unless one is given.

    Specs running on threads may make their first client at the same time: made one at a time
    (a client, once made, is thread-safe)."""
    if existing is not None:
        return existing
    import boto3

    with _CLIENTS:
        return boto3.client(service)
