"""Lazy secret resolution: values are fetched only at the moment a connection needs them.

The spec keeps ``${secret:name}``; :func:`resolve_secrets` swaps in the value through the
active profile's provider right before use, and :class:`SecretValue` never prints it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from engine.errors import SpecError
from engine.spec.interpolate import SECRET_REF


class SecretProvider(Protocol):
    """Anything that can turn a secret name into its value (env, AWS Secrets Manager...)."""

    def get(self, name: str) -> str: ...


class SecretValue(str):
    """A resolved secret: behaves as the string, but its repr and str-formatting are masked."""

    def __repr__(self) -> str:
        return "SecretValue('****')"

    def __format__(self, spec: str) -> str:
        return "****"


class EnvSecretProvider:
    """Secrets from environment variables ``<prefix><NAME>``: the local profile's provider."""

    def __init__(self, prefix: str = "MEDALLION_SECRET_", env: Mapping[str, str] | None = None,
                 dev_defaults: Mapping[str, str] | None = None):
        self.prefix = prefix
        self.env = os.environ if env is None else env
        self.dev_defaults = dict(dev_defaults or {})

    def get(self, name: str) -> str:
        """The value, or a SpecError telling which variable to set (never a value)."""
        key = self.prefix + name.upper().replace(".", "_")
        if key in self.env:
            return self.env[key]
        if name in self.dev_defaults:
            return self.dev_defaults[name]
        raise SpecError(f"secret '{name}' is not available: set the environment variable {key}")


def resolve_secrets(text: str, provider: SecretProvider) -> SecretValue:
    """Substitute every ``${secret:name}`` in ``text``; the result masks itself when printed."""
    return SecretValue(SECRET_REF.sub(lambda m: provider.get(m["name"]), text))
