"""Secrets Manager provider (moto): lazy, masked, retried on throttling, clear when missing."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from engine.errors import RunError, SpecError
from engine.io.secretsmanager import SecretsManagerProvider
from engine.spec.secrets import resolve_secrets


@pytest.fixture()
def sm():
    with mock_aws():
        client = boto3.client("secretsmanager")
        client.create_secret(Name="medallion/redshift_password", SecretString="s3cr3t-pw")
        yield client


def test_found_value_is_masked_when_printed(sm):
    provider = SecretsManagerProvider("medallion/")
    value = provider.get("redshift_password")
    assert value == "s3cr3t-pw"
    assert repr(value) == "SecretValue('****')" and f"{value}" == "****"
    assert "s3cr3t" not in repr(provider)
    dsn = resolve_secrets("password=${secret:redshift_password}", provider)
    assert str.__str__(dsn) == "password=s3cr3t-pw" and f"{dsn}" == "****"


def test_missing_secret_names_the_secret_id(sm):
    with pytest.raises(SpecError) as err:
        SecretsManagerProvider("medallion/").get("card_hmac_key")
    assert str(err.value) == (
        "secret 'card_hmac_key' is not available: AWS Secrets Manager has no secret 'medallion/card_hmac_key' "
        "(create it: aws secretsmanager create-secret --name medallion/card_hmac_key --secret-string ...)")


class FlakyClient:
    """Throttles ``failures`` times, then answers; counts the calls."""

    def __init__(self, failures, code="ThrottlingException"):
        self.failures, self.code, self.calls = failures, code, 0

    def get_secret_value(self, SecretId):
        self.calls += 1
        if self.calls <= self.failures:
            raise ClientError({"Error": {"Code": self.code, "Message": "slow down"}}, "GetSecretValue")
        return {"SecretString": f"value-of-{SecretId}"}


def test_nothing_is_fetched_until_needed_and_then_only_once():
    client = FlakyClient(0)
    provider = SecretsManagerProvider("app/", sm=client)
    assert client.calls == 0
    assert provider.get("db") == "value-of-app/db" and provider.get("db") == "value-of-app/db"
    assert client.calls == 1


def test_throttling_is_retried():
    client = FlakyClient(2)
    assert SecretsManagerProvider("app/", sm=client, wait_seconds=0).get("db") == "value-of-app/db"
    assert client.calls == 3


def test_access_denied_is_not_retried():
    client = FlakyClient(5, code="AccessDeniedException")
    with pytest.raises(RunError, match="reading secret app/db from AWS Secrets Manager: AccessDeniedException"):
        SecretsManagerProvider("app/", sm=client, wait_seconds=0).get("db")
    assert client.calls == 1


def test_throttling_that_persists_is_transient():
    client = FlakyClient(10)
    with pytest.raises(RunError) as err:
        SecretsManagerProvider("app/", sm=client, wait_seconds=0).get("db")
    assert err.value.transient and client.calls == 4


def test_a_field_of_a_json_secret():
    import json

    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        sm.create_secret(Name="medallion/rds_source", SecretString=json.dumps({"username": "etl", "password": "p@ss"}))
        provider = SecretsManagerProvider("medallion/", sm=sm)
        assert provider.get("rds_source.password") == "p@ss" and provider.get("rds_source.username") == "etl"
        with pytest.raises(SpecError, match="nor a field 'pwd' in the JSON secret 'medallion/rds_source'"):
            provider.get("rds_source.pwd")
