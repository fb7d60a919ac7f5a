"""One root error for the whole engine, and the taxonomy that drives exit codes and retries.

Every error a user can cause or meet derives from :class:`MedallionError`, so the CLI can print
one line per error and choose the exit code without knowing where it came from. Errors that
point into a spec or config file carry that location and render as ``path:line: message``.
"""

from __future__ import annotations

from pathlib import Path


class MedallionError(Exception):
    """Root of every error the engine raises on purpose.

    ``exit_code`` is what the CLI exits with (1 = a run failed, 2 = invalid spec or usage);
    ``transient`` says whether retrying the same work may succeed.
    """

    exit_code: int = 1
    transient: bool = False

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line

    @property
    def location(self) -> str:
        """``path:line`` (or just ``path``) when the error points into a file, else ''."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        loc = self.location
        return f"{loc}: {self.message}" if loc else self.message


class SpecError(MedallionError):
    """A spec or config file is invalid; found before any Spark work starts."""

    exit_code = 2


class SpecErrors(SpecError):
    """Several spec errors found in one pass, reported together (one line each)."""

    def __init__(self, errors: list[SpecError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class UsageError(MedallionError):
    """The command line asks for something that cannot be done (bad selector, bad --var)."""

    exit_code = 2


class InputDataError(MedallionError):
    """A raw input is missing, empty or does not match its declared schema."""

    exit_code = 2


class RunError(MedallionError):
    """A spec failed while running; terminal unless a subclass says otherwise."""

    exit_code = 1


class TransientError(RunError):
    """A failure worth retrying: I/O hiccups, throttling, lost executors, dropped connections."""

    transient = True


class TerminalError(RunError):
    """A failure that retrying cannot fix: bad expressions, schema mismatches, failed rules."""

    transient = False


class QueryFailed(UsageError):
    """One warehouse statement failed (a missing table, bad SQL); the warehouse itself answered."""
