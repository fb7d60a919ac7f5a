"""The rotation function (infra/rotate_redshift_user.py): its SQL, and its secret staging on moto.

setSecret/testSecret send SQL through the Redshift Data API, whose moto model never finishes a
statement; their SQL is checked here as text (written out by hand). The staging of versions
and the mirror refresh run against moto's Secrets Manager. Not run here: createSecret's
generate branch (moto cannot hold a value-less AWSPENDING version without invoking a Lambda).
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid

import boto3
import pytest
from moto import mock_aws

SECRET, MIRROR = "dt/redshift_password", "dt/connections/warehouse"


@pytest.fixture()
def rotation(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    users = {SECRET: {"name": "etl", "grants": ["GRANT CREATE ON DATABASE analytics TO etl"], "mirror": MIRROR},
             "dt/redshift_admin": {"name": "dt_admin", "grants": [], "json": True}}
    for name, value in {"WORKGROUP": "dt", "DATABASE": "analytics", "ADMIN_SECRET_ARN": "arn:admin",
                        "USERS": json.dumps(users)}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        sys.modules.pop("infra.rotate_redshift_user", None)
        module = importlib.import_module("infra.rotate_redshift_user")  # its clients are made at import
        yield module, boto3.client("secretsmanager", region_name="us-east-1")
    sys.modules.pop("infra.rotate_redshift_user", None)


def test_first_rotation_creates_the_user_and_grants_later_ones_alter_it():
    from infra.rotate_redshift_user import user_sql

    assert user_sql("etl", "Abc123", False, ["GRANT CREATE ON DATABASE analytics TO etl"]) == [
        "CREATE USER etl PASSWORD 'Abc123'", "GRANT CREATE ON DATABASE analytics TO etl"]
    assert user_sql("medallion_dashboards", "Xyz9", True, ["ignored when the user exists"]) == [
        "ALTER USER medallion_dashboards PASSWORD 'Xyz9'"]
    with pytest.raises(ValueError):
        user_sql("etl; drop table x", "Abc123", True, [])
    with pytest.raises(ValueError):
        user_sql("etl", "it's", True, [])


def _event(arn, token, step):
    return {"SecretId": arn, "ClientRequestToken": token, "Step": step}


def test_create_and_finish_stage_a_new_password_and_refresh_the_mirror(rotation):
    module, sm = rotation
    arn = sm.create_secret(Name=SECRET, SecretString="old-password")["ARN"]
    sm.create_secret(Name=MIRROR, SecretString=json.dumps({"username": "etl", "password": "old-password"}))
    token = str(uuid.uuid4())
    # what Secrets Manager does before calling createSecret: a version with only AWSPENDING
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString="placeholder", VersionStages=["AWSPENDING"])
    module.handler(_event(arn, token, "createSecret"), None)
    pending = sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"]
    assert pending == "placeholder"  # createSecret never replaces a pending value (retries are safe)

    token2 = str(uuid.uuid4())
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)
    with pytest.raises(ValueError, match="is not being rotated"):
        module.handler(_event(arn, token2, "createSecret"), None)


def test_finish_promotes_the_pending_password_and_refreshes_the_mirror(rotation):
    module, sm = rotation
    arn = sm.create_secret(Name=SECRET, SecretString="old-password")["ARN"]
    sm.create_secret(Name=MIRROR, SecretString=json.dumps({"username": "etl", "password": "old-password"}))
    token = str(uuid.uuid4())
    new = sm.get_random_password(PasswordLength=64, ExcludePunctuation=True)["RandomPassword"]
    # the state createSecret and setSecret leave: the new password staged AWSPENDING under the token
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=new, VersionStages=["AWSPENDING"])
    module.handler(_event(arn, token, "finishSecret"), None)
    # by stage: moto's default version does not follow AWSCURRENT moves
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"] == new
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"] == "old-password"
    assert json.loads(sm.get_secret_value(SecretId=MIRROR)["SecretString"]) == {"username": "etl", "password": new}
    module.handler(_event(arn, token, "finishSecret"), None)  # Secrets Manager may retry: a no-op now
    assert sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"] == new
