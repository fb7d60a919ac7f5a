"""Secrets Manager rotation of a Redshift user's password, via the Redshift Data API.

SQL runs as the namespace admin (password managed by Redshift): no network path needed. The
first rotation creates the user and grants; later ones ALTER it. Also refreshes a JSON mirror.
"""
import json
import os
import time

import boto3

sm = boto3.client("secretsmanager")
rd = boto3.client("redshift-data")
PENDING, CURRENT = "AWSPENDING", "AWSCURRENT"


def user_sql(user, password, exists, grants):
    """The statements that give ``user`` the new password (CREATE first time, ALTER after)."""
    if not user.replace("_", "").isalnum() or not password.isalnum():
        raise ValueError("user names and generated passwords are alphanumeric")
    if exists:
        return ["ALTER USER %s PASSWORD '%s'" % (user, password)]
    return ["CREATE USER %s PASSWORD '%s'" % (user, password)] + list(grants)


def _run(sql, params=None):
    args = {"WorkgroupName": os.environ["WORKGROUP"], "Database": os.environ["DATABASE"],
            "SecretArn": os.environ["ADMIN_SECRET_ARN"], "Sql": sql}
    if params:
        args["Parameters"] = params
    sid = rd.execute_statement(**args)["Id"]
    while True:
        found = rd.describe_statement(Id=sid)
        if found["Status"] == "FINISHED":
            return sid, found
        if found["Status"] in ("FAILED", "ABORTED"):
            raise RuntimeError("statement failed: %s" % found.get("Error"))
        time.sleep(1)


def _exists(user):
    sid, found = _run("select count(*) from pg_user where usename = :u", [{"name": "u", "value": user}])
    rows = rd.get_statement_result(Id=sid)["Records"]
    return bool(found.get("HasResultSet")) and rows[0][0].get("longValue", 0) > 0


def _password(user, found):
    text = found["SecretString"]
    return json.loads(text)["password"] if user.get("json") else text


def handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    meta = sm.describe_secret(SecretId=arn)
    stages = meta.get("VersionIdsToStages", {})
    if token not in stages:
        raise ValueError("version %s of %s is not being rotated" % (token, arn))
    if CURRENT in stages[token]:
        return
    user = json.loads(os.environ["USERS"])[meta["Name"]]
    if step == "createSecret":
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)
        except sm.exceptions.ResourceNotFoundException:
            password = sm.get_random_password(PasswordLength=64, ExcludePunctuation=True,
                                              RequireEachIncludedType=True)["RandomPassword"]
            value = json.dumps({"username": user["name"], "password": password}) if user.get("json") else password
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=value,
                                VersionStages=[PENDING])
    elif step == "setSecret":
        password = _password(user, sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING))
        for sql in user_sql(user["name"], password, _exists(user["name"]), user.get("grants", [])):
            _run(sql)
    elif step == "testSecret":
        if not _exists(user["name"]):
            raise RuntimeError("user %s was not created" % user["name"])
    elif step == "finishSecret":
        current = next(v for v, s in stages.items() if CURRENT in s)
        sm.update_secret_version_stage(SecretId=arn, VersionStage=CURRENT, MoveToVersionId=token,
                                       RemoveFromVersionId=current)
        mirror = user.get("mirror")
        if mirror:
            password = _password(user, sm.get_secret_value(SecretId=arn, VersionStage=CURRENT))
            value = json.dumps({"username": user["name"], "password": password})
            try:
                sm.put_secret_value(SecretId=mirror, SecretString=value)
            except sm.exceptions.ResourceNotFoundException:
                pass  # the deploy creates the mirror from the current password
    else:
        raise ValueError("unknown rotation step %s" % step)
