from pathlib import Path

import pytest

from engine.errors import SpecError
from engine.spec.interpolate import interpolate
from engine.spec.secrets import EnvSecretProvider, SecretValue, resolve_secrets
from engine.spec.yaml_source import load_yaml_text


def doc(text: str):
    return load_yaml_text(text, Path("pipelines/x.yaml"))


def test_variables_env_and_types():
    d = doc("path: ${var:raw_dir}/items.csv\nparts: ${var:parts}\nhome: ${env:HOME_DIR:-/home}\n"
            "set: ${env:SET_ONE}\nliteral: $${var:raw_dir}\n")
    out = interpolate(d, {"raw_dir": "data/raw", "parts": 8}, env={"SET_ONE": "yes"})
    assert out == {"path": "data/raw/items.csv", "parts": 8, "home": "/home", "set": "yes",
                   "literal": "${var:raw_dir}"}


def test_unknown_variable_has_line_and_suggestion():
    d = doc("name: a\npath: ${var:raw_dri}/x.csv\n")
    with pytest.raises(SpecError) as err:
        interpolate(d, {"raw_dir": "data/raw"}, env={})
    assert str(err.value).startswith("pipelines/x.yaml:2: unknown variable 'raw_dri' (did you mean 'raw_dir'?)")


def test_missing_env_without_default():
    with pytest.raises(SpecError) as err:
        interpolate(doc("a: ${env:NOPE_X}\n"), {}, env={})
    assert "pipelines/x.yaml:1: environment variable 'NOPE_X' is not set" in str(err.value)


def test_secrets_stay_unresolved_until_used():
    out = interpolate(doc("password: ${secret:db_password}\n"), {}, env={})
    assert out == {"password": "${secret:db_password}"}
    provider = EnvSecretProvider(env={"MEDALLION_SECRET_DB_PASSWORD": "s3cr3t"})
    value = resolve_secrets("postgresql://u:${secret:db_password}@h/db", provider)
    assert value == "postgresql://u:s3cr3t@h/db"
    assert isinstance(value, SecretValue)
    assert "s3cr3t" not in repr(value) and "s3cr3t" not in f"{value}"


def test_missing_secret_names_the_variable_not_a_value():
    with pytest.raises(SpecError) as err:
        resolve_secrets("${secret:api_key}", EnvSecretProvider(env={}))
    assert "set the environment variable MEDALLION_SECRET_API_KEY" in str(err.value)
