"""Issue 24: the dashboards on AWS, asserted on the template (the image's command is run against
PostgreSQL and Chromium in test_image_command.py; the deploy's image step in test_image_build.py).

Every listener and rule is walked: a request reaches the target group only after a sign-in
action that sends unauthenticated users to the identity provider.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.run.workspace import Workspace
from engine.spec.project import DeployOidc, load_project
from infra.deployer import deploy
from infra.target import Target, target_for
from infra.template import build_template
from infra.template_hosting import missing_hosting_settings, require_hosting_settings
from infra.template_iam import KEY_ARN
from infra.template_image import image_tag
from tests.dashboards.test_pages import PAGES

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "infra" / "Dockerfile"
READY = {"MEDALLION_CERTIFICATE_ARN": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
         "MEDALLION_DASHBOARDS_DOMAIN": "dashboards.corp.test",
         "MEDALLION_ALB_SUBNET_IDS": "subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb"}


@pytest.fixture(scope="module")
def template():
    return build_template(target_for(load_project(ROOT, "aws", env=READY)))


def _of_type(template, kind):
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def _reaches_target_group_unauthenticated(actions) -> bool:
    """True when some forward happens with no earlier authenticate action that demands sign-in."""
    signed_in = False
    for action in sorted(actions, key=lambda a: a.get("Order", 0)):
        kind = action["Type"]
        if kind in ("authenticate-cognito", "authenticate-oidc"):
            config = action.get("AuthenticateCognitoConfig") or action.get("AuthenticateOidcConfig")
            signed_in = config.get("OnUnauthenticatedRequest", "authenticate") == "authenticate"
        elif kind == "forward" or "TargetGroupArn" in action:
            return not signed_in
        elif kind in ("redirect", "fixed-response"):
            return False
    return False


def _walk_listeners(template):
    listeners = _of_type(template, "AWS::ElasticLoadBalancingV2::Listener")
    rules = _of_type(template, "AWS::ElasticLoadBalancingV2::ListenerRule")
    return listeners, rules


def test_no_unauthenticated_path_reaches_the_app(template):
    listeners, rules = _walk_listeners(template)
    assert set(listeners) == {"HttpsListener", "HttpListener"}
    for name, props in listeners.items():
        assert not _reaches_target_group_unauthenticated(props["DefaultActions"]), name
    for name, props in rules.items():
        assert not _reaches_target_group_unauthenticated(props["Actions"]), name
    https = listeners["HttpsListener"]
    assert (https["Protocol"], https["Port"]) == ("HTTPS", 443)
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"] == [{"CertificateArn": READY["MEDALLION_CERTIFICATE_ARN"]}]
    first, second = sorted(https["DefaultActions"], key=lambda a: a["Order"])
    assert first["Type"] == "authenticate-cognito"
    assert first["AuthenticateCognitoConfig"]["UserPoolArn"] == {"Fn::GetAtt": ["UserPool", "Arn"]}
    assert second == {"Type": "forward", "Order": 2, "TargetGroupArn": {"Ref": "DashboardsTargetGroup"}}
    http = listeners["HttpListener"]
    (redirect,) = http["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert (redirect["RedirectConfig"]["Protocol"], redirect["RedirectConfig"]["Port"]) == ("HTTPS", "443")


def test_the_walker_catches_an_open_path():
    forward = {"Type": "forward", "Order": 1, "TargetGroupArn": {"Ref": "T"}}
    assert _reaches_target_group_unauthenticated([forward])
    allow = {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {"OnUnauthenticatedRequest": "allow"}}
    assert _reaches_target_group_unauthenticated([allow, {**forward, "Order": 2}])


def test_cognito_pool_is_invite_only(template):
    pool = _of_type(template, "AWS::Cognito::UserPool")["UserPool"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert "https://dashboards.corp.test" in pool["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"]
    client = _of_type(template, "AWS::Cognito::UserPoolClient")["UserPoolClient"]
    assert client["CallbackURLs"] == ["https://dashboards.corp.test/oauth2/idpresponse"]
    assert client["GenerateSecret"] is True and client["AllowedOAuthFlows"] == ["code"]
    assert template["Outputs"]["DashboardsUserPoolId"]["Value"] == {"Ref": "UserPool"}


def test_external_idp_replaces_the_pool():
    base = target_for(load_project(ROOT, "aws", env=READY))
    oidc = DeployOidc(issuer="https://idp.corp.test", authorization_endpoint="https://idp.corp.test/authorize",
                      token_endpoint="https://idp.corp.test/token", user_info_endpoint="https://idp.corp.test/userinfo",
                      client_id="dashboards")
    hosting = base.config.hosting.model_copy(update={"oidc": oidc})
    template = build_template(Target(base.project, base.config.model_copy(update={"hosting": hosting})))
    assert not _of_type(template, "AWS::Cognito::UserPool")
    actions = _of_type(template, "AWS::ElasticLoadBalancingV2::Listener")["HttpsListener"]["DefaultActions"]
    sign_in = sorted(actions, key=lambda a: a["Order"])[0]
    assert sign_in["Type"] == "authenticate-oidc"
    config = sign_in["AuthenticateOidcConfig"]
    assert config["ClientSecret"] == "{{resolve:secretsmanager:medallion/dashboards/oidc_client_secret}}"
    assert config["OnUnauthenticatedRequest"] == "authenticate" and config["Issuer"] == "https://idp.corp.test"
    assert not _reaches_target_group_unauthenticated(actions)


@pytest.mark.parametrize(("change", "message"), [
    ({"token_endpoint": "http://idp.corp.test/token"}, "deploy.hosting.oidc.token_endpoint must be your identity "
                                                       "provider's https:// URL (got 'http://idp.corp.test/token')"),
    ({"issuer": "https://idp.example"}, "deploy.hosting.oidc.issuer must be"),
    ({"user_info_endpoint": ""}, "deploy.hosting.oidc.user_info_endpoint must be"),
    ({"client_id": " "}, "deploy.hosting.oidc.client_id is empty"),
])
def test_a_misconfigured_identity_provider_is_refused_before_aws(change, message):
    base = target_for(load_project(ROOT, "aws", env=READY))
    fields = {"issuer": "https://idp.corp.test", "authorization_endpoint": "https://idp.corp.test/authorize",
              "token_endpoint": "https://idp.corp.test/token", "user_info_endpoint": "https://idp.corp.test/userinfo",
              "client_id": "dashboards"}
    good = base.config.hosting.model_copy(update={"oidc": DeployOidc(**fields)})
    assert missing_hosting_settings(Target(base.project, base.config.model_copy(update={"hosting": good}))) is None
    bad = base.config.hosting.model_copy(update={"oidc": DeployOidc(**{**fields, **change})})
    target = Target(base.project, base.config.model_copy(update={"hosting": bad}))
    assert message in missing_hosting_settings(target)
    with pytest.raises(UsageError, match="deploy.hosting.oidc"):
        require_hosting_settings(target)


def test_service_is_private_and_health_checked(template):
    group = _of_type(template, "AWS::ElasticLoadBalancingV2::TargetGroup")["DashboardsTargetGroup"]
    assert (group["HealthCheckPath"], group["Port"], group["TargetType"]) == ("/_stcore/health", 8501, "ip")
    service = _of_type(template, "AWS::ECS::Service")["DashboardsService"]
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network == {"AssignPublicIp": "DISABLED", "Subnets": ["subnet-00000000000000000"],
                       "SecurityGroups": [{"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]}]}
    assert service["LaunchType"] == "FARGATE"
    alb = _of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Alb"]
    assert alb["Subnets"] == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
    log = _of_type(template, "AWS::Logs::LogGroup")["DashboardsLogGroup"]
    assert log["KmsKeyId"] == KEY_ARN
    task = _of_type(template, "AWS::ECS::TaskDefinition")["DashboardsTask"]
    (container,) = task["ContainerDefinitions"]
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "DashboardsLogGroup"}
    assert container["ReadonlyRootFilesystem"] is True
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["MEDALLION_PROFILE"] == "aws_dashboards" and env["MEDALLION_DASHBOARDS_USER"] == "medallion_dashboards"


def test_security_groups_alb_to_tasks_to_redshift_only(template):
    groups = _of_type(template, "AWS::EC2::SecurityGroup")
    assert "SecurityGroupIngress" not in groups["TasksSecurityGroup"]
    ingress = [p for p in _of_type(template, "AWS::EC2::SecurityGroupIngress").values()
               if p["GroupId"] == {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]}]
    assert ingress == [{"GroupId": {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
                        "FromPort": 8501, "ToPort": 8501,
                        "SourceSecurityGroupId": {"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]},
                        "Description": "the load balancer only"}]
    egress = [p for p in _of_type(template, "AWS::EC2::SecurityGroupEgress").values()
              if p["GroupId"] == {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]}]
    assert sorted((p["FromPort"], p.get("DestinationSecurityGroupId", p.get("CidrIp"))) for p in egress) == [
        (443, "0.0.0.0/0"), (5439, "sg-00000000000000000")]
    redshift_in = [p for p in _of_type(template, "AWS::EC2::SecurityGroupIngress").values()
                   if p["GroupId"] == "sg-00000000000000000"]
    assert [(p["FromPort"], p["SourceSecurityGroupId"]) for p in redshift_in] == [
        (5439, {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]})]
    assert {r["FromPort"] for r in groups["AlbSecurityGroup"]["SecurityGroupIngress"]} == {80, 443}


def test_task_role_reads_its_secret_decrypts_and_reads_the_run_store_only(template):
    role = _of_type(template, "AWS::IAM::Role")["DashboardsTaskRole"]
    (policy,) = role["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Sid": "ReadOwnSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": [{"Ref": "DashboardsPasswordSecret"}]},
        {"Sid": "DecryptWithDataKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [KEY_ARN]},
        # the run store only ("data as of", health page, model reports): no table data, so no silver
        {"Sid": "ReadRunRecords", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": ["arn:aws:s3:::medallion-lake/lake/_runs/*"]},
        {"Sid": "ListRunRecords", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": ["arn:aws:s3:::medallion-lake"], "Condition": {"StringLike": {"s3:prefix": ["lake/_runs/*"]}}}]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}


def test_repository_and_build_project(template):
    repo = _of_type(template, "AWS::ECR::Repository")["DashboardsRepository"]
    assert repo["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repo["ImageTagMutability"] == "IMMUTABLE"
    assert repo["EncryptionConfiguration"] == {"EncryptionType": "KMS", "KmsKey": KEY_ARN}
    build = _of_type(template, "AWS::CodeBuild::Project")["DashboardsImageBuild"]
    assert build["Source"]["Type"] == "S3"
    assert build["Source"]["Location"] == "medallion-lake-artefacts/medallion/artefacts/dashboards-image-context.zip"
    assert "docker build --pull -f infra/Dockerfile" in build["Source"]["BuildSpec"]
    assert build["Environment"]["PrivilegedMode"] is True  # docker build inside CodeBuild
    assert [v["Name"] for v in build["Environment"]["EnvironmentVariables"]] == ["REPOSITORY_URI"]  # the tag: per build
    # the image the service runs is the stack parameter the deploy sets once the image is in ECR
    assert template["Parameters"]["DashboardsImageTag"]["Default"] == "none"
    assert template["Conditions"]["DashboardsImagePushed"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "DashboardsImageTag"}, "none"]}]}
    image = _of_type(template, "AWS::ECS::TaskDefinition")["DashboardsTask"]["ContainerDefinitions"][0]["Image"]
    assert image == {"Fn::Join": ["", [{"Fn::GetAtt": ["DashboardsRepository", "RepositoryUri"]}, ":",
                                       {"Ref": "DashboardsImageTag"}]]}
    service = _of_type(template, "AWS::ECS::Service")["DashboardsService"]
    assert service["DesiredCount"] == {"Fn::If": ["DashboardsImagePushed", 1, 0]}  # no task before its image
    assert template["Outputs"]["DashboardsImageTag"]["Value"] == {"Ref": "DashboardsImageTag"}
    target = target_for(load_project(ROOT, "aws", env=READY))
    assert re.fullmatch(r"[0-9a-f]{16}", image_tag(target)) and image_tag(target) == image_tag(target)


def test_without_dashboards_the_template_has_no_image_parameter():
    template = build_template(target_for(load_project(ROOT, "aws", env={**READY, "MEDALLION_DASHBOARDS": "false"})))
    assert "Parameters" not in template and "Conditions" not in template
    assert not _of_type(template, "AWS::ECR::Repository")


def test_deploy_refuses_without_a_certificate_naming_the_variable():
    ids = {"MEDALLION_VPC_ID": "vpc-0a1b2c3d4e5f60718", "MEDALLION_DB_ROUTE_TABLE_IDS": "rtb-0a1b2c3d4e5f60718",
           "MEDALLION_DB_SUBNET_IDS": "subnet-0a1b2c3d4e5f60718", "MEDALLION_DB_SECURITY_GROUP_IDS": "sg-0a1b2c3d4e5f60718"}
    assert "MEDALLION_CERTIFICATE_ARN" in missing_hosting_settings(target_for(load_project(ROOT, "aws", env=ids)))
    one_subnet = {**READY, "MEDALLION_ALB_SUBNET_IDS": "subnet-0aaaaaaaaaaaaaaaa"}
    assert "MEDALLION_ALB_SUBNET_IDS" in missing_hosting_settings(target_for(load_project(ROOT, "aws", env=one_subnet)))
    assert missing_hosting_settings(target_for(load_project(ROOT, "aws", env=READY))) is None
    assert missing_hosting_settings(target_for(load_project(ROOT, "aws", env={"MEDALLION_DASHBOARDS": "false"}))) is None
    ws = Workspace.open(ROOT, "aws", [])
    project = load_project(ROOT, "aws", env=ids)
    with pytest.raises(UsageError, match="export MEDALLION_CERTIFICATE_ARN="):
        deploy(project, ws.graph, dry_run=False, say=lambda line: None, aws={"never": "called"})


def _cmd() -> list[str]:
    line = next(l for l in DOCKERFILE.read_text().splitlines() if l.startswith("CMD "))
    return json.loads(line[4:])


def test_dockerfile_is_slim_nonroot_and_offline():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^USER 10001$", text, re.M)
    assert "pip install --no-index --no-deps /tmp/wheels/*.whl" in text
    assert "[dev]" not in text and "pytest" not in text
    assert _cmd() == ["medallion", "dashboard", "--profile", "aws_dashboards", "--host", "0.0.0.0", "--port", "8501"]


def test_image_context_installs_offline_as_the_dockerfile_does(tmp_path):
    import zipfile

    from infra.image import build_context
    from infra.wheels import build_wheel_bytes

    dep = tmp_path / "alpha-1.0-py3-none-any.whl"
    dep.write_bytes(build_wheel_bytes("alpha", "1.0", {"alpha/__init__.py": b""}, []))
    target = target_for(load_project(ROOT, "aws", env=READY))
    context = build_context(target, [dep])
    assert context == build_context(target, [dep])  # reproducible: same files, same bytes
    path = tmp_path / "context.zip"
    path.write_bytes(context)
    out = tmp_path / "context"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        archive.extractall(out)
    assert {"infra/Dockerfile", "wheels/medallion-0.1.0-py3-none-any.whl",
            "wheels/medallion_dashboards-0.1.0-py3-none-any.whl", "wheels/alpha-1.0-py3-none-any.whl",
            "project/medallion.yaml"} <= names
    assert any(n.startswith("project/marts/") for n in names)
    # the Dockerfile's RUN line, into a folder instead of the image's site-packages
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "--no-index", "--no-deps", "--target", str(site), *sorted(map(str, (out / "wheels").glob("*.whl")))],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (site / "engine" / "cli.py").exists() and (site / "dashboards" / "app.py").exists()
    # the command the Dockerfile's CMD names: the engine wheel's console script
    assert (site / "bin" / "medallion").read_text().splitlines()[1:3] == ["import sys", "from engine.cli import entry"]
    probe = ("import sys; sys.path[:0] = [sys.argv[1]]; from importlib.metadata import entry_points; "
             "print(sorted(e.value for e in entry_points(group='medallion.commands')))")
    listed = subprocess.run([sys.executable, "-S", "-c", probe, str(site)], capture_output=True, text=True,
                            env={"PATH": os.environ["PATH"]})
    assert listed.stdout.strip() == "['dashboards.cli:register']", listed.stderr


def test_the_image_project_opens_with_its_profile_and_every_page_loads(tmp_path):
    """/app of the image (the context's project/ files) opened as the hosted app opens it: every
    spec links (the aws profile's bronze_jdbc specs are the ones shipped) and no page has errors."""
    from dashboards.catalog import load_pages
    from dashboards.vocabulary import load_vocabulary
    from infra.image import context_entries
    from infra.template_rotation import reader_user

    target = target_for(load_project(ROOT, "aws", env=READY))
    for name, data in context_entries(target, []).items():
        if name.startswith("project/"):
            path = tmp_path / name.removeprefix("project/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    assert (tmp_path / "vocabulary.yaml").read_bytes() == (ROOT / "vocabulary.yaml").read_bytes()
    ws = Workspace.open(tmp_path, "aws_dashboards", [])
    vocabulary = load_vocabulary(tmp_path, ws.project.variables)
    pages = load_pages(ws.graph, tmp_path, vocabulary)
    assert len(pages) == len(PAGES) and [p.slug for p in pages if p.error] == []
    # the user the app signs in as is the one the stack creates and the publish grants
    assert ws.project.profile.warehouse.user == reader_user(target) == "medallion_dashboards"
    aws = load_project(ROOT, "aws", env={})
    assert aws.profile.warehouse.reader.user == reader_user(target) and aws.profile.warehouse.reader.create_login is False
    assert ws.project.profile.warehouse.password == "${secret:" + "redshift_dashboards_password}"
    assert aws.profile.warehouse.reader.password == ws.project.profile.warehouse.password
