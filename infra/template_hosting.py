"""The dashboards on AWS: ECS Fargate tasks in the private subnets behind an authenticating ALB.

What a request goes through: the HTTPS listener (TLS 1.2+, the certificate of the deploy
settings) whose default action signs the user in (Cognito user pool of the stack, or the
external OpenID Connect provider of ``deploy.hosting.oidc``) before it forwards to the target
group; the HTTP listener only redirects to HTTPS. No listener rule forwards without the sign-in
(``tests/infra/test_hosting.py`` walks every rule). Tasks have no public IP; the load balancer
alone reaches them, and they reach only Redshift (5439) and the AWS APIs (443, through the VPC
endpoints and the S3 gateway: the subnets have no internet route). The task role can read its
one secret (the read-only warehouse user's password), decrypt with the data key, and read the
run store (``<lake prefix>/_runs/``: run records and model reports, which the "data as of" line,
the health page and the model blocks show; no table data, so silver stays out of reach), nothing
else. Logs go to a KMS-encrypted CloudWatch log group.
"""

from __future__ import annotations

from typing import Any

from engine.errors import UsageError
from engine.spec.project import DeployHosting
from infra.target import Target
from infra.template_iam import KEY_ARN, sub
from infra.template_image import PUSHED, REPOSITORY, TAG_PARAMETER, image_part, image_uri
from infra.template_meta import skip
from infra.template_network import ENDPOINT_GROUP
from infra.template_rotation import reader_user

PORT = 8501
HEALTH = "/_stcore/health"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
EXAMPLE_ACCOUNT = ":000000000000:"
PROFILE = "aws_dashboards"


def _trust(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]}


def _log_group(target: Target) -> str:
    return f"/ecs/{target.prefix}-dashboards"


def _groups(target: Target, hosting: DeployHosting) -> dict[str, Any]:
    cfg = target.config
    closed = [{"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "no default egress"}]
    alb: dict[str, Any] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": f"{target.prefix} dashboards load balancer: HTTPS in, tasks out",
        "VpcId": cfg.vpc_id,
        "SecurityGroupIngress": [
            {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIp": cidr, "Description": what}
            for cidr in hosting.allowed_cidrs
            for port, what in ((443, "HTTPS (sign-in, then the dashboards)"), (80, "HTTP, redirected to HTTPS"))],
        "SecurityGroupEgress": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
                                 "Description": "the identity provider's token and user-info endpoints"}]}}
    skip(alb, "CKV_AWS_260", "port 80 only answers with a redirect to HTTPS (HttpListener); no content on HTTP")
    tasks = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": f"{target.prefix} dashboards tasks: from the load balancer only",
        "VpcId": cfg.vpc_id, "SecurityGroupEgress": closed}}
    resources: dict[str, Any] = {
        "AlbSecurityGroup": alb, "TasksSecurityGroup": tasks,
        "AlbToTasksEgress": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
            "FromPort": PORT, "ToPort": PORT, "DestinationSecurityGroupId": {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]},
            "Description": "the dashboards' port on the tasks"}},
        "TasksFromAlbIngress": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
            "FromPort": PORT, "ToPort": PORT, "SourceSecurityGroupId": {"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]},
            "Description": "the load balancer only"}},
        "TasksToAwsApisEgress": {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
            "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
            "Description": "AWS APIs via the interface endpoints and S3 (image layers) via the gateway; "
                           "the subnets have no internet route"}},
        "EndpointsFromTasksIngress": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Fn::GetAtt": [ENDPOINT_GROUP, "GroupId"]}, "IpProtocol": "tcp", "FromPort": 443,
            "ToPort": 443, "SourceSecurityGroupId": {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]},
            "Description": "AWS APIs for the dashboards tasks"}},
    }
    for i, group in enumerate(cfg.security_group_ids):
        resources[f"TasksToRedshiftEgress{i}"] = {"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
            "FromPort": 5439, "ToPort": 5439, "DestinationSecurityGroupId": group,
            "Description": "Redshift, read-only user"}}
        resources[f"RedshiftFromTasksIngress{i}"] = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": group, "IpProtocol": "tcp", "FromPort": 5439, "ToPort": 5439,
            "SourceSecurityGroupId": {"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]},
            "Description": "the dashboards tasks"}}
    return resources


def _cognito(target: Target, hosting: DeployHosting) -> dict[str, Any]:
    callback = f"https://{hosting.domain_name}/oauth2/idpresponse"
    return {
        "UserPool": {"Type": "AWS::Cognito::UserPool", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                     "Properties": {
            "UserPoolName": f"{target.prefix}-dashboards",
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True, "InviteMessageTemplate": {
                "EmailSubject": "Your access to the dashboards",
                "EmailMessage": (f"You are invited to the dashboards: open https://{hosting.domain_name} and sign in "
                                 "as {username} with the temporary password {####}.")}},
            "UsernameAttributes": ["email"], "AutoVerifiedAttributes": ["email"],
            "MfaConfiguration": "OPTIONAL", "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            "Policies": {"PasswordPolicy": {"MinimumLength": 14, "RequireLowercase": True, "RequireUppercase": True,
                                            "RequireNumbers": True, "RequireSymbols": True,
                                            "TemporaryPasswordValidityDays": 7}},
            "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
            "DeletionProtection": "ACTIVE"}},
        "UserPoolClient": {"Type": "AWS::Cognito::UserPoolClient", "Properties": {
            "UserPoolId": {"Ref": "UserPool"}, "ClientName": f"{target.prefix}-dashboards-alb", "GenerateSecret": True,
            "AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthFlows": ["code"],
            "AllowedOAuthScopes": ["openid", "email", "profile"], "SupportedIdentityProviders": ["COGNITO"],
            "CallbackURLs": [callback], "PreventUserExistenceErrors": "ENABLED"}},
        "UserPoolDomain": {"Type": "AWS::Cognito::UserPoolDomain", "Properties": {
            "UserPoolId": {"Ref": "UserPool"}, "Domain": sub(f"{target.prefix}-dashboards-${{AWS::AccountId}}")}},
    }


def sign_in_action(target: Target, hosting: DeployHosting) -> dict[str, Any]:
    """The listener's first action: nobody reaches the app before the identity provider says who."""
    if hosting.oidc is None:
        return {"Type": "authenticate-cognito", "Order": 1, "AuthenticateCognitoConfig": {
            "UserPoolArn": {"Fn::GetAtt": ["UserPool", "Arn"]}, "UserPoolClientId": {"Ref": "UserPoolClient"},
            "UserPoolDomain": {"Ref": "UserPoolDomain"}, "OnUnauthenticatedRequest": "authenticate",
            "Scope": "openid email profile", "SessionTimeout": 28800}}
    oidc = hosting.oidc
    secret = target.secret_name(oidc.client_secret)
    return {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {
        "Issuer": oidc.issuer, "AuthorizationEndpoint": oidc.authorization_endpoint,
        "TokenEndpoint": oidc.token_endpoint, "UserInfoEndpoint": oidc.user_info_endpoint,
        "ClientId": oidc.client_id, "ClientSecret": f"{{{{resolve:secretsmanager:{secret}}}}}",
        "OnUnauthenticatedRequest": "authenticate", "Scope": "openid email profile", "SessionTimeout": 28800}}


def _load_balancer(target: Target, hosting: DeployHosting) -> dict[str, Any]:
    alb: dict[str, Any] = {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
        "Name": f"{target.prefix}-dashboards", "Type": "application",
        "Scheme": "internet-facing" if hosting.internet_facing else "internal",
        "Subnets": list(hosting.alb_subnet_ids), "SecurityGroups": [{"Fn::GetAtt": ["AlbSecurityGroup", "GroupId"]}],
        "LoadBalancerAttributes": [
            {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
            {"Key": "deletion_protection.enabled", "Value": "true"},
            {"Key": "routing.http.desync_mitigation_mode", "Value": "strictest"}]}}
    skip(alb, "CKV_AWS_91", "who opened which page is in the app's CloudWatch log group with the signed-in user; "
                            "ELB log delivery to the SSE-S3 access-log bucket needs a per-region ELB account")
    return {
        "Alb": alb,
        "DashboardsTargetGroup": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Name": f"{target.prefix}-dashboards", "TargetType": "ip", "Protocol": "HTTP", "Port": PORT,
            "VpcId": target.config.vpc_id, "HealthCheckPath": HEALTH, "HealthCheckProtocol": "HTTP",
            "Matcher": {"HttpCode": "200"}, "HealthCheckIntervalSeconds": 30, "HealthyThresholdCount": 2,
            "TargetGroupAttributes": [  # Streamlit keeps a session per websocket: stay on one task
                {"Key": "stickiness.enabled", "Value": "true"}, {"Key": "stickiness.type", "Value": "lb_cookie"},
                {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]}},
        "HttpsListener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "LoadBalancerArn": {"Ref": "Alb"}, "Port": 443, "Protocol": "HTTPS", "SslPolicy": TLS_POLICY,
            "Certificates": [{"CertificateArn": hosting.certificate_arn}],
            "DefaultActions": [sign_in_action(target, hosting),
                               {"Type": "forward", "Order": 2, "TargetGroupArn": {"Ref": "DashboardsTargetGroup"}}]}},
        "HttpListener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {
            "LoadBalancerArn": {"Ref": "Alb"}, "Port": 80, "Protocol": "HTTP",
            "DefaultActions": [{"Type": "redirect", "RedirectConfig": {
                "Protocol": "HTTPS", "Port": "443", "Host": "#{host}", "Path": "/#{path}", "Query": "#{query}",
                "StatusCode": "HTTP_301"}}]}},
    }


def _roles(target: Target) -> dict[str, Any]:
    group_arn = sub(f"arn:aws:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{_log_group(target)}:*")
    repo_arn = {"Fn::GetAtt": [REPOSITORY, "Arn"]}
    execution = [
        {"Sid": "EcrSignIn", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "PullImage", "Effect": "Allow", "Resource": [repo_arn],
         "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]},
        {"Sid": "WriteLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [group_arn]},
        {"Sid": "DecryptImageAndLogs", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [KEY_ARN]}]
    runs = target.runs_prefix  # the run store (records, model reports): no table data
    task = [
        {"Sid": "ReadOwnSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": [{"Ref": "DashboardsPasswordSecret"}]},
        {"Sid": "DecryptWithDataKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [KEY_ARN]},
        {"Sid": "ReadRunRecords", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{target.bucket('lake')}/{runs}/*"]},
        {"Sid": "ListRunRecords", "Effect": "Allow", "Action": ["s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{target.bucket('lake')}"],
         "Condition": {"StringLike": {"s3:prefix": [f"{runs}/*"]}}}]

    def role(name: str, description: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": f"{target.prefix}-dashboards-{name}", "Description": description,
            "AssumeRolePolicyDocument": _trust("ecs-tasks.amazonaws.com"),
            "Policies": [{"PolicyName": name, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]}}

    return {"DashboardsExecutionRole": role("execution", "Lets ECS pull the dashboards image and write its logs",
                                            execution),
            "DashboardsTaskRole": role("task", "The dashboards app: its one secret, the key, the run store", task)}


def _service(target: Target, hosting: DeployHosting) -> dict[str, Any]:
    wh = target.warehouse
    environment = {
        "MEDALLION_PROJECT_DIR": "/app", "MEDALLION_PROFILE": PROFILE, "AWS_REGION": {"Ref": "AWS::Region"},
        "MEDALLION_BUCKET": target.bucket("lake"), "MEDALLION_DASHBOARDS_USER": reader_user(target),
        "MEDALLION_REDSHIFT_HOST": {"Fn::GetAtt": ["RedshiftWorkgroup", "Workgroup.Endpoint.Address"]},
        "MEDALLION_REDSHIFT_DATABASE": wh.database if wh else "analytics", "HOME": "/tmp"}
    container = {
        "Name": "dashboards", "Image": image_uri(), "Essential": True,
        "PortMappings": [{"ContainerPort": PORT, "Protocol": "tcp"}],
        "Environment": [{"Name": k, "Value": v} for k, v in sorted(environment.items())],
        "ReadonlyRootFilesystem": True, "Privileged": False,
        "MountPoints": [{"SourceVolume": "tmp", "ContainerPath": "/tmp", "ReadOnly": False}],
        "LogConfiguration": {"LogDriver": "awslogs", "Options": {
            "awslogs-group": {"Ref": "DashboardsLogGroup"}, "awslogs-region": {"Ref": "AWS::Region"},
            "awslogs-stream-prefix": "dashboards"}}}
    return {
        "DashboardsLogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                               "Properties": {"LogGroupName": _log_group(target), "RetentionInDays": 365,
                                              "KmsKeyId": KEY_ARN}},
        "DashboardsCluster": {"Type": "AWS::ECS::Cluster", "Properties": {
            "ClusterName": f"{target.prefix}-dashboards",
            "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]}},
        "DashboardsTask": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
            "Family": f"{target.prefix}-dashboards", "RequiresCompatibilities": ["FARGATE"], "NetworkMode": "awsvpc",
            "Cpu": str(hosting.cpu), "Memory": str(hosting.memory),
            "RuntimePlatform": {"OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64"},
            "ExecutionRoleArn": {"Fn::GetAtt": ["DashboardsExecutionRole", "Arn"]},
            "TaskRoleArn": {"Fn::GetAtt": ["DashboardsTaskRole", "Arn"]},
            "Volumes": [{"Name": "tmp"}], "ContainerDefinitions": [container]}},
        "DashboardsService": {"Type": "AWS::ECS::Service", "DependsOn": ["HttpsListener"], "Properties": {
            "ServiceName": f"{target.prefix}-dashboards", "Cluster": {"Ref": "DashboardsCluster"},
            "LaunchType": "FARGATE", "PlatformVersion": "LATEST",
            "DesiredCount": {"Fn::If": [PUSHED, hosting.desired_count, 0]},  # no task before its image
            "TaskDefinition": {"Ref": "DashboardsTask"}, "HealthCheckGracePeriodSeconds": 60,
            "Tags": [{"Key": "medallion:image-tag", "Value": {"Ref": TAG_PARAMETER}}],  # what it runs, at a glance
            "DeploymentConfiguration": {"DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}},
            "NetworkConfiguration": {"AwsvpcConfiguration": {
                "AssignPublicIp": "DISABLED", "Subnets": list(target.config.subnet_ids),
                "SecurityGroups": [{"Fn::GetAtt": ["TasksSecurityGroup", "GroupId"]}]}},
            "LoadBalancers": [{"ContainerName": "dashboards", "ContainerPort": PORT,
                               "TargetGroupArn": {"Ref": "DashboardsTargetGroup"}}]}},
    }


def hosting_part(target: Target) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything that serves the dashboards, when ``deploy.hosting`` is set and enabled."""
    hosting = target.config.hosting
    if hosting is None or not hosting.enabled:
        return {}, {}
    resources: dict[str, Any] = {**_groups(target, hosting), **_load_balancer(target, hosting),
                                 **_roles(target), **_service(target, hosting)}
    if hosting.oidc is None:
        resources.update(_cognito(target, hosting))
    image, image_outputs = image_part(target)
    resources.update(image)
    outputs = {"DashboardsUrl": {"Description": "where business users open the dashboards",
                                 "Value": f"https://{hosting.domain_name}"},
               "DashboardsLoadBalancerDns": {"Description": f"point {hosting.domain_name} (CNAME/alias) here",
                                             "Value": {"Fn::GetAtt": ["Alb", "DNSName"]}},
               **image_outputs}
    if hosting.oidc is None:
        outputs["DashboardsUserPoolId"] = {"Description": "invite business users here",
                                           "Value": {"Ref": "UserPool"}}
    return resources, outputs


def missing_hosting_settings(target: Target) -> str | None:
    """What a real deploy of the dashboards still lacks, as the variable to set (None when ready)."""
    hosting = target.config.hosting
    if hosting is None or not hosting.enabled:
        return None
    if not hosting.certificate_arn.startswith("arn:aws:acm:") or EXAMPLE_ACCOUNT in hosting.certificate_arn:
        return ("the dashboards need an ACM certificate for their HTTPS listener: export MEDALLION_CERTIFICATE_ARN="
                "arn:aws:acm:<region>:<account>:certificate/<id> (or MEDALLION_DASHBOARDS=false to deploy without them)")
    if hosting.domain_name.endswith(".example"):
        return "the dashboards need the host name of that certificate: export MEDALLION_DASHBOARDS_DOMAIN=<name>"
    if any(s.startswith("subnet-0000") for s in hosting.alb_subnet_ids) or len(hosting.alb_subnet_ids) < 2:
        return ("the dashboards' load balancer needs two subnets in two zones: export "
                "MEDALLION_ALB_SUBNET_IDS=subnet-a,subnet-b")
    return _oidc_problem(hosting.oidc)


def _oidc_problem(oidc: Any) -> str | None:
    """An external identity provider the load balancer cannot use (it speaks HTTPS only)."""
    if oidc is None:
        return None
    for field in ("issuer", "authorization_endpoint", "token_endpoint", "user_info_endpoint"):
        value = getattr(oidc, field)
        if not value.startswith("https://") or len(value) <= len("https://") or ".example" in value:
            return (f"deploy.hosting.oidc.{field} must be your identity provider's https:// URL (got {value!r}); "
                    "its discovery document (<issuer>/.well-known/openid-configuration) lists them")
    if not oidc.client_id.strip():
        return "deploy.hosting.oidc.client_id is empty: the id of the dashboards' client at your identity provider"
    return None


def require_hosting_settings(target: Target) -> None:
    """Refuse a real deploy whose dashboards settings are incomplete (one line: the variable to set)."""
    problem = missing_hosting_settings(target)
    if problem:
        raise UsageError(problem)
