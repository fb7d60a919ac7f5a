"""``${var:name}``, ``${env:NAME:-default}`` and ``${secret:name}`` in spec and config values.

Variables and environment references are resolved when a file is loaded, so validation sees the
final values and an unknown variable is reported at its line. Secrets are *not* resolved here:
the reference text stays in the model and only the code that opens a connection asks the
active profile's secret provider for the value, so a secret never lands in a plan, a log or a
run record.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from engine.spec.suggest import did_you_mean
from engine.spec.yaml_source import PathKey, YamlDoc

_REF = re.compile(r"\$\{(?P<kind>[a-z]+):(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?::-(?P<default>[^}]*))?\}")
_ESCAPED = "$${"


def interpolate(doc: YamlDoc, variables: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Any:
    """Return ``doc.data`` with variable and environment references substituted.

    A scalar that is exactly one ``${var:x}`` takes the variable's own type (a number stays a
    number); references inside longer text are formatted as text. ``$${`` escapes a literal.
    """
    env = os.environ if env is None else env

    def walk(value: Any, loc: PathKey) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, (*loc, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*loc, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return _substitute(value, loc)
        return value

    def resolve(match: re.Match[str], loc: PathKey) -> Any:
        kind, name, default = match["kind"], match["name"], match["default"]
        if kind == "var":
            if name not in variables:
                raise doc.error(loc, f"unknown variable '{name}'{did_you_mean(name, variables)}; "
                                     "declare it under variables: in medallion.yaml or pass --var")
            return variables[name]
        if kind == "env":
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise doc.error(loc, f"environment variable '{name}' is not set and has no default "
                                 f"(write ${{env:{name}:-default}})")
        if kind == "secret":
            return match.group(0)
        raise doc.error(loc, f"unknown reference kind '{kind}'{did_you_mean(kind, ['var', 'env', 'secret'])}")

    def _substitute(text: str, loc: PathKey) -> Any:
        protected = text.replace(_ESCAPED, "\x00")
        whole = _REF.fullmatch(protected)
        if whole:
            return resolve(whole, loc)
        result = _REF.sub(lambda m: str(resolve(m, loc)), protected)
        return result.replace("\x00", "${")

    return walk(doc.data, ())


SECRET_REF = re.compile(r"\$\{secret:(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\}")


def secret_names(text: str) -> list[str]:
    """The secret names referenced in ``text`` (so a profile can check they exist)."""
    return [m["name"] for m in SECRET_REF.finditer(text)]
