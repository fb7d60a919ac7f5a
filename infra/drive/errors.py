"""The Lambda's errors: transient ones are retried per file, terminal ones are reported at once.

Why not engine/errors.py: the function's zip carries only infra/drive/ and its three libraries,
not the engine (pydantic, Spark wrappers); the two-family split mirrors the engine's
TransientError / TerminalError.
"""

from __future__ import annotations


class IngestError(Exception):
    """Root of the Drive ingestion errors; ``str()`` is the line logged and sent in the alert."""


class TransientIngestError(IngestError):
    """Worth another attempt: throttling, a server error, a cut-off download, a checksum mismatch."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TerminalIngestError(IngestError):
    """Another attempt gives the same answer: fix the input or the configuration."""


class SecretMissing(TerminalIngestError):
    """The service-account key is not in Secrets Manager (or is not a key)."""


class FolderNotFound(TerminalIngestError):
    """The folder id does not name a folder the service account can see."""


class WrongHeader(TerminalIngestError):
    """A CSV whose first line is not the header its bronze spec reads."""


class Throttled(TransientIngestError):
    """Drive answered 429 (or 403 rate limit): wait as long as Retry-After says."""


class Truncated(TransientIngestError):
    """The download ended before its announced length."""


class ChecksumMismatch(TransientIngestError):
    """The bytes received do not hash to the md5Checksum Drive reported."""
