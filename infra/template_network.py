"""Interface endpoints, so every job and task in the database subnets reaches AWS without internet.

The Glue job runs in the private database subnets (its connections attach it there). Without a
route to the internet it still needs Secrets Manager (credentials, the HMAC key), KMS (the data
key), CloudWatch Logs (its logs), Glue (the catalog and its own API), STS (credentials of its
role) and Step Functions (the orchestration reports task results); the dashboards' Fargate tasks
also pull their image from ECR. One interface endpoint per service, private DNS on, so the
standard endpoint names resolve to addresses in the subnets; S3 goes through the gateway
endpoint. Each endpoint's policy admits only principals of this account.

Who may connect: the endpoints carry the database security groups of the deploy settings
(AWS Glue requires those to have a self-referencing rule, so the job's network interfaces reach
them) plus ``EndpointSecurityGroup``, which the stack's own tasks (the dashboards) are let into.
A NAT gateway is the alternative (docs/design.md says why the endpoints were chosen).
"""

from __future__ import annotations

from typing import Any

from infra.target import Target

# logical id suffix -> service name after com.amazonaws.<region>.
SERVICES = {
    "SecretsManager": "secretsmanager",
    "Kms": "kms",
    "Logs": "logs",
    "Glue": "glue",
    "Sts": "sts",
    "StepFunctions": "states",
    "EcrApi": "ecr.api",
    "EcrDocker": "ecr.dkr",
}
ENDPOINT_GROUP = "EndpointSecurityGroup"


def endpoint_logical(suffix: str) -> str:
    """Logical id of one interface endpoint."""
    return f"{suffix}Endpoint"


def _group(target: Target) -> dict[str, Any]:
    return {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": f"{target.prefix}: HTTPS to the interface endpoints from the stack tasks",
        "VpcId": target.config.vpc_id,
        "SecurityGroupEgress": [{"IpProtocol": "-1", "CidrIp": "127.0.0.1/32",
                                 "Description": "no outbound traffic (endpoints only answer)"}]}}


def _endpoint(target: Target, service: str) -> dict[str, Any]:
    return {"Type": "AWS::EC2::VPCEndpoint", "Properties": {
        "VpcId": target.config.vpc_id, "VpcEndpointType": "Interface",
        "ServiceName": {"Fn::Sub": f"com.amazonaws.${{AWS::Region}}.{service}"},
        "SubnetIds": list(target.config.subnet_ids), "PrivateDnsEnabled": True,
        "SecurityGroupIds": [{"Fn::GetAtt": [ENDPOINT_GROUP, "GroupId"]}, *target.config.security_group_ids],
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Sid": "ThisAccountOnly", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}}]}}}


def endpoints_part(target: Target) -> tuple[dict[str, Any], dict[str, Any]]:
    """The endpoint security group and one interface endpoint per service."""
    resources = {ENDPOINT_GROUP: _group(target)}
    for suffix, service in SERVICES.items():
        resources[endpoint_logical(suffix)] = _endpoint(target, service)
    return resources, {}
