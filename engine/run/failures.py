"""The one classifier of failures: transient (retry) or terminal (don't), with a plain message.

Retrying a bad expression wastes time; not retrying a dropped connection wastes a night; and
retrying a full disk only fills the log. Every layer (the runner, Spark and the JVM, boto3,
database drivers) sends its exceptions through :func:`classify`, so one table decides:

- a full disk or quota (``ENOSPC``, ``EDQUOT``, ``No space left on device``) and a permission or
  read-only problem (``EACCES``, ``EPERM``, ``EROFS``, ``AccessDenied``) are terminal, with a
  message that says so in plain words;
- lost connections, timeouts, throttling, 5xx answers, lost executors, fetch failures and
  serialization conflicts are transient;
- everything else is terminal.

For a JVM error the message is the root cause (the last ``Caused by:``), not Py4J's
``An error occurred while calling o1074.parquet``.
"""

from __future__ import annotations

import errno
import re

from engine.errors import DiskFullError, MedallionError, RunError, StoragePermissionError, TerminalError, \
    TransientError

_DISK_FULL_ERRNO = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_PERMISSION_ERRNO = {errno.EACCES, errno.EPERM, errno.EROFS}
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "File too large")
_PERMISSION_TEXT = ("Permission denied", "Read-only file system", "AccessDenied", "Access Denied",
                    "Operation not permitted", "org.apache.hadoop.security.AccessControlException")
_TRANSIENT_TEXT = (
    # the network exceptions of java.net, not all of it (a URISyntaxException never heals)
    "java.net.SocketException", "java.net.SocketTimeoutException", "java.net.ConnectException",
    "java.net.NoRouteToHostException", "java.net.UnknownHostException", "java.net.PortUnreachableException",
    "java.util.concurrent.TimeoutException", "java.io.InterruptedIOException",
    "org.apache.spark.shuffle.FetchFailedException", "ExecutorLostFailure", "SlowDown", "Throttl",
    "org.postgresql.util.PSQLException: Connection", "Connection reset", "Connection refused",
    "RequestTimeout", "ServiceUnavailable", "InternalError", "Serializable isolation violation",
)
_TRANSIENT_AWS_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "SlowDown", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "ProvisionedThroughputExceededException", "RequestTimeout",
    "RequestTimeoutException", "InternalError", "InternalFailure", "InternalServiceError",
    "ServiceUnavailable", "ServiceUnavailableException",
})
_TRANSIENT_SQLSTATE = ("08", "53", "57P", "40001", "40P01", "55P03")
_TRANSIENT_OS_ERRNO = {errno.ECONNRESET, errno.ECONNREFUSED, errno.ECONNABORTED, errno.ETIMEDOUT,
                       errno.EPIPE, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EAGAIN, errno.EIO}
_CAUSE = re.compile(r"^\s*Caused by: (.+)$", re.M)


def first_line(exc: BaseException) -> str:
    """The first meaningful line of an exception message (Spark's are very long)."""
    text = str(exc).strip() or type(exc).__name__
    for line in text.splitlines():
        if line.strip() and not line.strip().startswith(("JVM stacktrace", "at ")):
            return line.strip()
    return text.splitlines()[0]


def root_cause(exc: BaseException) -> str:
    """The most specific line of an error: a JVM error's last ``Caused by:``, else its first line."""
    text = str(exc)
    causes = _CAUSE.findall(text)
    if causes:
        return causes[-1].strip()
    line = first_line(exc)
    if line.startswith("An error occurred while calling"):
        rest = [ln.strip().lstrip(": ") for ln in text.splitlines()[1:] if ln.strip()]
        if rest:
            return rest[0]
    return line


def kind_of(exc: BaseException) -> str:
    """``disk_full``, ``permission``, ``transient`` or ``terminal`` for any exception."""
    if isinstance(exc, MedallionError):
        return "transient" if exc.transient else "terminal"
    text = str(exc)
    err_no = getattr(exc, "errno", None)
    if err_no in _DISK_FULL_ERRNO or any(m in text for m in _DISK_FULL_TEXT):
        return "disk_full"
    if err_no in _PERMISSION_ERRNO or isinstance(exc, PermissionError) or any(m in text for m in _PERMISSION_TEXT):
        return "permission"
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return "transient" if code in _TRANSIENT_AWS_CODES or (isinstance(status, int) and status >= 500) \
            else "terminal"
    first = exc.args[0] if exc.args else None
    if isinstance(first, dict) and "C" in first:  # a database server's ErrorResponse
        return "transient" if str(first["C"]).startswith(_TRANSIENT_SQLSTATE) else "terminal"
    if isinstance(exc, (ConnectionError, TimeoutError)) or type(exc).__name__ in (
            "Py4JNetworkError", "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return "transient"
    if isinstance(exc, OSError):
        return "transient" if err_no in _TRANSIENT_OS_ERRNO else "terminal"
    if any(m in text for m in _TRANSIENT_TEXT):
        return "transient"
    return "terminal"


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same work may succeed."""
    return kind_of(exc) == "transient"


def classify(exc: BaseException, context: str = "") -> RunError | MedallionError:
    """Wrap ``exc`` in the engine's error for its kind (MedallionErrors pass through)."""
    if isinstance(exc, MedallionError):
        return exc
    prefix = f"{context}: " if context else ""
    cause = root_cause(exc)
    kind = kind_of(exc)
    if kind == "disk_full":
        return DiskFullError(f"{prefix}disk full ({cause}); nothing was committed — free space where the "
                             "lake lives (or raise the quota), then resume")
    if kind == "permission":
        return StoragePermissionError(f"{prefix}permission denied ({cause}); nothing was committed — give "
                                      "this process write access to the lake (or mount it read-write), "
                                      "then resume")
    return TransientError(prefix + cause) if kind == "transient" else TerminalError(prefix + cause)
