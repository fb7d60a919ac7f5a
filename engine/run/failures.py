"""Classify exceptions from Spark and the JVM as transient (retry) or terminal (don't).

Retrying a bad expression wastes time; not retrying a dropped connection wastes a night. The
split follows the exception's kind and, for JVM errors, the Java class behind it.
"""

from __future__ import annotations

from engine.errors import MedallionError, RunError, TerminalError, TransientError

_TRANSIENT_JAVA = (
    "java.io.IOException", "java.net.", "java.util.concurrent.TimeoutException",
    "org.apache.spark.shuffle.FetchFailedException", "org.apache.spark.SparkException: Job aborted due to stage failure: Task",
    "com.amazonaws.services.s3.model.AmazonS3Exception: Slow Down", "SlowDown", "Throttl",
    "org.postgresql.util.PSQLException: Connection", "ExecutorLostFailure",
)


def first_line(exc: BaseException) -> str:
    """The first meaningful line of an exception message (Spark's are very long)."""
    text = str(exc).strip() or type(exc).__name__
    for line in text.splitlines():
        if line.strip() and not line.strip().startswith(("JVM stacktrace", "at ")):
            return line.strip()
    return text.splitlines()[0]


def classify(exc: BaseException, context: str = "") -> RunError | MedallionError:
    """Wrap ``exc`` in a TerminalError or TransientError (MedallionErrors pass through)."""
    if isinstance(exc, MedallionError):
        return exc
    prefix = f"{context}: " if context else ""
    message = prefix + first_line(exc)
    try:
        from py4j.protocol import Py4JJavaError, Py4JNetworkError
    except ImportError:  # pragma: no cover
        Py4JJavaError = Py4JNetworkError = ()  # type: ignore[assignment,misc]
    if isinstance(exc, (ConnectionError, TimeoutError, Py4JNetworkError)):
        return TransientError(message)
    if isinstance(exc, Py4JJavaError):
        text = str(exc)
        if any(marker in text for marker in _TRANSIENT_JAVA):
            return TransientError(message)
        return TerminalError(message)
    if isinstance(exc, OSError):
        return TransientError(message)
    return TerminalError(message)
