"""Secrets from AWS Secrets Manager: the deployed profile's provider.

``${secret:name}`` resolves to the secret ``<prefix><name>`` (e.g. ``medallion/redshift_password``).
``${secret:name.field}`` is one field of a JSON secret when no secret has the whole name, e.g.
``${secret:rds_source.password}`` reads ``password`` of ``medallion/rds_source`` (the shape RDS
and Secrets Manager rotation use: ``{"username": ..., "password": ...}``).
A value is fetched only when a connection first needs it, kept in memory for the rest of the
process (one request per secret per run, not per table) and handed out as a masked
:class:`SecretValue`. Throttling is retried with backoff; a missing secret is a one-line error
naming the secret id and how to create it, never a traceback.
"""

from __future__ import annotations

from typing import Any

from engine.errors import RunError, SpecError
from engine.io.aws import MISSING_CODES, call, client, error_code
from engine.spec.secrets import SecretValue


class SecretsManagerProvider:
    """Looks secrets up by ``<prefix><name>``; nothing is fetched until :meth:`get`."""

    def __init__(self, prefix: str = "medallion/", sm: Any = None, wait_seconds: float = 0.25):
        self.prefix = prefix
        self._sm = sm
        self.wait_seconds = wait_seconds
        self._values: dict[str, SecretValue] = {}

    def __repr__(self) -> str:
        return f"SecretsManagerProvider(prefix={self.prefix!r}, fetched={sorted(self._values)})"

    def get(self, name: str) -> SecretValue:
        """The secret's value (masked when printed); SpecError naming the secret id when missing."""
        if name in self._values:
            return self._values[name]
        base, _, field = name.rpartition(".")
        if base:
            try:
                return self._fetch(name)
            except SpecError:
                return self._field(base, field, name)
        return self._fetch(name)

    def _field(self, base: str, field: str, name: str) -> SecretValue:
        import json

        whole = self._fetch(base)
        try:
            value = json.loads(whole)[field]
        except (ValueError, KeyError, TypeError):
            raise SpecError(f"secret '{name}' is not available: neither a secret '{self.prefix}{name}' nor a "
                            f"field '{field}' in the JSON secret '{self.prefix}{base}'") from None
        self._values[name] = SecretValue(str(value))
        return self._values[name]

    def _fetch(self, name: str) -> SecretValue:
        if name in self._values:
            return self._values[name]
        secret_id = self.prefix + name
        self._sm = client("secretsmanager", self._sm)
        try:
            found = call(lambda: self._sm.get_secret_value(SecretId=secret_id),
                         f"reading secret {secret_id} from AWS Secrets Manager", wait_seconds=self.wait_seconds)
        except Exception as exc:
            if error_code(exc) in MISSING_CODES:
                raise SpecError(f"secret '{name}' is not available: AWS Secrets Manager has no secret "
                                f"'{secret_id}' (create it: aws secretsmanager create-secret --name {secret_id} "
                                "--secret-string ...)") from None
            raise
        if found.get("SecretString") is not None:
            value = found["SecretString"]
        elif found.get("SecretBinary") is not None:
            value = bytes(found["SecretBinary"]).decode("utf-8")
        else:
            raise RunError(f"secret '{secret_id}' in AWS Secrets Manager has no current value")
        self._values[name] = SecretValue(value)
        return self._values[name]
