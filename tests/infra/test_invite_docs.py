"""docs/deploy.md's invitation of a business user, run as written: the AWS CLI's own commands from
the document, against a moto server holding a user pool made from the template's ``UserPool``.

moto's CloudFormation cannot create Cognito resources, so the pool is made with the template's
properties through the API, and ``$POOL`` is its id (the document reads it from the stack output
``DashboardsUserPoolId``, asserted on the template in test_hosting.py).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest

from engine.spec.project import load_project
from infra.target import target_for
from infra.template import build_template
from tests.infra.test_e2e import moto_server  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[2]
READY = {"MEDALLION_CERTIFICATE_ARN": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
         "MEDALLION_DASHBOARDS_DOMAIN": "dashboards.corp.test",
         "MEDALLION_ALB_SUBNET_IDS": "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb"}


def _commands(section: str) -> list[str]:
    """The ``aws cognito-idp`` command lines of one section of docs/deploy.md, continuations joined."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    body = text.split(f"### {section}", 1)[1].split("\n## ", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", body)
    found = re.findall(r"^aws cognito-idp [^\n]+", "\n".join(b for b in re.findall(r"```bash\n(.*?)```", joined, re.S)),
                       re.M)
    found += re.findall(r"`(aws cognito-idp [^`]+)`", joined)
    return found


@pytest.mark.slow
def test_the_documented_invitation_creates_and_disables_the_user(moto_server, tmp_path):  # noqa: F811
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("no AWS CLI on this machine")
    template = build_template(target_for(load_project(ROOT, "aws", env=READY)))
    pool = template["Resources"]["UserPool"]["Properties"]
    cognito = boto3.client("cognito-idp", endpoint_url=moto_server, region_name="us-east-1")
    pool_id = cognito.create_user_pool(
        PoolName=pool["UserPoolName"], Policies=pool["Policies"], AdminCreateUserConfig=pool["AdminCreateUserConfig"],
        UsernameAttributes=pool["UsernameAttributes"], AutoVerifiedAttributes=pool["AutoVerifiedAttributes"],
        MfaConfiguration=pool["MfaConfiguration"])["UserPool"]["Id"]
    commands = _commands("Inviting a business user (Cognito)")
    create = next(c for c in commands if " admin-create-user " in c and "RESEND" not in c)
    disable = next(c for c in commands if " admin-disable-user " in c)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "POOL": pool_id, "AWS_ENDPOINT_URL": moto_server,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def run(line: str) -> str:
        argv = [os.path.expandvars(a) for a in shlex.split(line.replace('"$POOL"', pool_id))]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, (line, done.stderr)
        return done.stdout

    run(create)
    user = cognito.admin_get_user(UserPoolId=pool_id, Username="jane.doe@example.com")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["email"] == "jane.doe@example.com" and attributes["email_verified"] == "true"
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD" and user["Enabled"] is True  # a temporary password
    listed = next(c for c in commands if " list-users " in c)
    assert "jane.doe@example.com" in run(listed)
    run(disable)
    assert cognito.admin_get_user(UserPoolId=pool_id, Username="jane.doe@example.com")["Enabled"] is False
