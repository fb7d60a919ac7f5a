import pytest

from engine.errors import SpecError, UsageError
from engine.spec.project import LocalLake, load_project, parse_var_overrides, resolve_variables


def test_precedence_cli_over_env_over_file():
    defaults = {"a": 1, "b": "x", "c": "file"}
    env = {"MEDALLION_VAR_B": "from-env", "MEDALLION_VAR_C": "env"}
    out = resolve_variables(defaults, {"c": "cli"}, env)
    assert out == {"a": 1, "b": "from-env", "c": "cli"}


def test_var_overrides_parse_scalars():
    assert parse_var_overrides(["n=8", "s=hello", "p=a=b", "f=0.5"]) == {"n": 8, "s": "hello", "p": "a=b", "f": 0.5}
    with pytest.raises(UsageError):
        parse_var_overrides(["novalue"])


def test_unknown_override_suggests(make_project):
    root = make_project({})
    with pytest.raises(UsageError) as err:
        load_project(root, None, {"raw_dri": "x"}, env={})
    assert "--var raw_dri: unknown variable (did you mean 'raw_dir'?)" in str(err.value)


def test_profile_resolves_variables(make_project):
    root = make_project({})
    project = load_project(root, None, {"lake_dir": "elsewhere"}, env={})
    assert isinstance(project.profile.lake, LocalLake)
    assert project.profile.lake.root == "elsewhere"
    assert project.path(project.profile.lake.root) == root / "elsewhere"


def test_unknown_profile(make_project):
    root = make_project({})
    with pytest.raises(UsageError) as err:
        load_project(root, "locla", env={})
    assert "unknown profile 'locla' (did you mean 'local'?)" in str(err.value)


def test_bad_profile_key_has_line(make_project):
    config = ("name: p\nvariables: {lake_dir: lake}\nprofiles:\n  local:\n"
              "    lake: {kind: local, root: lake}\n    warehouse: {kind: duckdb, path: w.db}\n"
              "    sparc: {master: local}\n")
    root = make_project({}, config=config)
    with pytest.raises(SpecError) as err:
        load_project(root, None, env={})
    assert str(err.value) == "medallion.yaml:7: unknown key 'sparc' in profiles.local (did you mean 'spark'?)"


def test_dev_secret_defaults_only_for_local_env_provider(make_project):
    config = ("name: p\nvariables: {}\nprofiles:\n  aws:\n"
              "    lake: {kind: local, root: lake}\n    warehouse: {kind: duckdb, path: w.db}\n"
              "    secrets:\n      kind: aws_secrets_manager\n      dev_defaults: {card_hmac_key: x}\n")
    root = make_project({}, config=config)
    with pytest.raises(SpecError) as err:
        load_project(root, "aws", env={})
    assert str(err.value).startswith("medallion.yaml:7: profiles.aws.secrets: dev_defaults are only allowed")


def test_repository_aws_profile_has_no_development_key():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    aws = load_project(root, "aws", env={})
    assert aws.profile.secrets.kind == "aws_secrets_manager" and aws.profile.secrets.dev_defaults == {}
    assert aws.profile.warehouse.password == "${secret:redshift_password}"  # a reference, never a value
