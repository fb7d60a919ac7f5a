"""The Drive ingestion Lambda end to end: a local HTTP server plays Google Drive v3 and its token
endpoint; moto plays S3, KMS, Secrets Manager, SNS (read back through SQS) and Step Functions.

The server checks what google-auth really sends: the JWT assertion is verified with the public
half of a throwaway RSA key made here (never committed), the first access token it issues is
answered as expired (401), listings come two files a page, one download is throttled (429 with
Retry-After), one is cut off mid-body, one never matches its md5Checksum.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws

from engine.spec.project import load_project
from infra.drive.handler import handler
from infra.drive.ingest import Ingestion
from infra.drive.settings import Settings
from infra.target import target_for
from infra.template_drive import expected_headers

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
FOLDER = "1FolderAbCdEfGhIjKlMn"
BUCKET = "acme-raw"
SECRET = "medallion/drive/service-account"

ITEMS_HEADER = ("APP_NAME,RESTAURANT_ID,CREATION_TIME_UTC,ORDER_ID,USER_ID,PRINTED_CARD_NUMBER,IS_LOYALTY,"
                "CURRENCY,LINEITEM_ID,ITEM_CATEGORY,ITEM_NAME,ITEM_PRICE,ITEM_QUANTITY")
OPTIONS_HEADER = "ORDER_ID,LINEITEM_ID,OPTION_GROUP_NAME,OPTION_NAME,OPTION_PRICE,OPTION_QUANTITY"
DATE_HEADER = "date_key,year,month,week,day_of_week,is_weekend,is_holiday,holiday_name"  # sample_data/date_dim.csv


@pytest.fixture(scope="module")
def rsa_key():
    """A throwaway 2048-bit key: the private half goes in the fake secret, the public half to the server."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return pem, public


class FakeDrive:
    """State and behaviour of the fake Drive; the handler class below serves it."""

    def __init__(self, public_pem: str):
        self.public_pem = public_pem
        self.files: dict[str, dict] = {}
        self.tokens_issued: list[str] = []
        self.expired = {"tok-1"}
        self.throttle_once: set[str] = set()
        self.truncate_once: set[str] = set()
        self.corrupt: set[str] = set()
        self.requests: list[tuple[float, str, str]] = []  # (time, path+query, authorization)
        self.assertions: list[dict] = []

    def add(self, file_id: str, name: str, content: bytes, md5: str | None = None) -> None:
        self.files[file_id] = {"id": file_id, "name": name, "content": content, "mimeType": "text/csv",
                               "md5Checksum": md5 or hashlib.md5(content).hexdigest(), "size": str(len(content)),
                               "modifiedTime": "2026-11-30T12:00:00.000Z"}

    def downloads(self, file_id: str) -> int:
        return sum(1 for _, path, _ in self.requests if path.startswith(f"/drive/v3/files/{file_id}?") and
                   "alt=media" in path)


def _serve(drive: FakeDrive):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output clean
            pass

        def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # the OAuth token endpoint
            length = int(self.headers["Content-Length"])
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            from google.auth import jwt
            assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            # google-auth addresses the assertion to Google's token endpoint, wherever it posts it
            claims = jwt.decode(form["assertion"][0], certs=drive.public_pem, verify=True,
                                audience="https://oauth2.googleapis.com/token")
            drive.assertions.append(claims)
            token = f"tok-{len(drive.tokens_issued) + 1}"
            drive.tokens_issued.append(token)
            self._json(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

        def do_GET(self):
            auth = self.headers.get("Authorization", "")
            drive.requests.append((time.monotonic(), self.path, auth))
            token = auth.removeprefix("Bearer ")
            if token not in drive.tokens_issued or token in drive.expired:
                return self._json(401, {"error": {"code": 401, "message": "Invalid Credentials"}})
            url = urllib.parse.urlparse(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path == "/drive/v3/files":
                parent = query["q"][0].split("'")[1]
                names = sorted((f for f in drive.files.values() if parent == FOLDER), key=lambda f: f["name"])
                start = int(query.get("pageToken", ["0"])[0])
                page = names[start:start + 2]  # two a page, whatever pageSize asks: paging is exercised
                body = {"files": [{k: v for k, v in f.items() if k != "content"} for f in page]}
                if start + 2 < len(names):
                    body["nextPageToken"] = str(start + 2)
                return self._json(200, body)
            file_id = url.path.rsplit("/", 1)[1]
            if file_id == FOLDER and "alt" not in query:
                return self._json(200, {"id": FOLDER, "name": "raw", "mimeType": "application/vnd.google-apps.folder"})
            if file_id not in drive.files:
                return self._json(404, {"error": {"code": 404, "message": f"File not found: {file_id}."}})
            if query.get("alt") != ["media"]:
                return self._json(200, {k: v for k, v in drive.files[file_id].items() if k != "content"})
            if file_id in drive.throttle_once:
                drive.throttle_once.discard(file_id)
                return self._json(429, {"error": {"code": 429, "message": "Rate Limit Exceeded"}},
                                  {"Retry-After": "1"})
            content = drive.files[file_id]["content"]
            if file_id in drive.corrupt:
                content = content.replace(b"1", b"7")
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(drive.files[file_id]["content"])))
            self.end_headers()
            if file_id in drive.truncate_once:
                drive.truncate_once.discard(file_id)
                self.wfile.write(content[: len(content) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(content)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def drive(rsa_key):
    fake = FakeDrive(rsa_key[1])
    server = _serve(fake)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def aws(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
                 "AWS_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="acme-alerts")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="acme", roleArn="arn:aws:iam::123456789012:role/acme-states",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))
        yield {"s3": s3, "kms_key": key, "sns": sns, "topic": topic, "sqs": sqs, "queue": queue, "sfn": sfn,
               "machine": machine["stateMachineArn"], "secrets": boto3.client("secretsmanager", region_name=REGION)}


def _put_secret(aws, drive, pem):
    aws["secrets"].create_secret(Name=SECRET, SecretString=json.dumps({
        "type": "service_account", "project_id": "acme", "private_key_id": "k1", "private_key": pem,
        "client_email": "ingest@acme.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": f"{drive.url}/token"}))


@functools.lru_cache(maxsize=1)
def _spec_headers() -> dict[str, list[str]]:
    return expected_headers(target_for(load_project(ROOT, "aws")))  # from the real bronze specs


def _settings(aws, drive, **overrides) -> Settings:
    headers = {**_spec_headers(), "stores.csv": ["store_id", "name"]}
    values = dict(folder_id=FOLDER, raw_bucket=BUCKET, prefix="drive", secret_id=SECRET, kms_key_id=aws["kms_key"],
                  state_machine_arn=aws["machine"], alerts_topic_arn=aws["topic"], expected_headers=headers,
                  drive_root=f"{drive.url}/drive/v3", attempts=3, max_wait_seconds=2)
    values.update(overrides)
    return Settings(**values)


def _env(settings: Settings) -> dict[str, str]:
    return {"DRIVE_FOLDER_ID": settings.folder_id, "RAW_BUCKET": settings.raw_bucket, "RAW_PREFIX": settings.prefix,
            "DRIVE_SECRET_ID": settings.secret_id, "KMS_KEY_ID": settings.kms_key_id,
            "STATE_MACHINE_ARN": settings.state_machine_arn, "ALERTS_TOPIC_ARN": settings.alerts_topic_arn,
            "EXPECTED_HEADERS": json.dumps(settings.expected_headers), "DRIVE_API_ROOT": settings.drive_root,
            "DRIVE_ATTEMPTS": str(settings.attempts), "DRIVE_MAX_WAIT_SECONDS": str(settings.max_wait_seconds)}


def _keys(aws) -> list[str]:
    return sorted(o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _alerts(aws) -> list[str]:
    got = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in got]


def _read(aws, key: str) -> bytes:
    return aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read()


ITEMS = (ITEMS_HEADER + "\nAlltown Fresh,R1,2024-01-01 10:00:00,O1,U1,4111111111111111,TRUE,USD,L1,Food,Soup,5.00,1\n"
         ).encode()
OPTIONS = (OPTIONS_HEADER + "\nO1,L1,Size,Large,1.00,1\n").encode()
DATES = (DATE_HEADER + "\n01-01-2024,2024,1,1,Monday,FALSE,TRUE,New Year's Day\n").encode()
STORES = b"store_id,name\n1,Main Street 1\n"


def test_copies_changed_files_through_every_drive_failure_and_starts_the_pipeline(
        aws, drive, rsa_key, monkeypatch, caplog):
    _put_secret(aws, drive, rsa_key[0])
    drive.add("f-items", "order_items.csv", ITEMS)
    drive.add("f-options", "order_item_options.csv", OPTIONS)
    drive.add("f-dates", "date_dim.csv", DATES)
    drive.add("f-stores", "stores.csv", STORES)
    drive.add("f-notes", "notes.txt", b"not for the pipeline")
    drive.throttle_once.add("f-items")
    drive.truncate_once.add("f-options")
    drive.corrupt.add("f-stores")
    settings = _settings(aws, drive)
    for k, v in _env(settings).items():
        monkeypatch.setenv(k, v)
    caplog.set_level(logging.INFO)

    result = handler({"source": "aws.events"}, None)  # the Lambda entry point, as EventBridge calls it

    assert result["status"] == "partial"
    assert sorted(f["name"] for f in result["copied"]) == ["date_dim.csv", "order_item_options.csv", "order_items.csv"]
    assert [f["name"] for f in result["failed"]] == ["stores.csv"]
    assert "md5" in result["failed"][0]["error"] and result["ignored"] == ["notes.txt"]
    # the expired first token was refreshed once; the JWT was signed by our key for the read-only scope
    assert drive.tokens_issued == ["tok-1", "tok-2"]
    assert drive.assertions[0]["iss"] == "ingest@acme.iam.gserviceaccount.com"
    assert drive.assertions[0]["scope"] == "https://www.googleapis.com/auth/drive.readonly"
    # paging: 5 files two a page = 3 list calls (each after the refresh)
    lists = [p for _, p, a in drive.requests if p.startswith("/drive/v3/files?") and a == "Bearer tok-2"]
    assert len(lists) == 3 and "pageToken=2" in lists[1] and "pageToken=4" in lists[2]
    # 429: retried after Retry-After (1 s); truncated: retried; corrupt: every attempt (3), then reported
    assert drive.downloads("f-items") == 2 and drive.downloads("f-options") == 2 and drive.downloads("f-stores") == 3
    items_times = [t for t, p, _ in drive.requests if p.startswith("/drive/v3/files/f-items?")]
    assert items_times[1] - items_times[0] >= 0.95

    run_id = result["run_id"]
    dated = f"drive/{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}/{run_id}"
    assert _keys(aws) == sorted([f"{dated}/order_items.csv", f"{dated}/order_item_options.csv",
                                 f"{dated}/date_dim.csv", f"{dated}/_manifest.json", "drive/_state/last_copies.json",
                                 "drive/latest/order_items.csv", "drive/latest/order_item_options.csv",
                                 "drive/latest/date_dim.csv"])  # no _tmp/ left, nothing of stores.csv or notes.txt
    assert _read(aws, f"{dated}/order_items.csv") == ITEMS and _read(aws, "drive/latest/date_dim.csv") == DATES
    head = aws["s3"].head_object(Bucket=BUCKET, Key=f"{dated}/order_item_options.csv")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == aws["kms_key"]
    manifest = json.loads(_read(aws, f"{dated}/_manifest.json"))
    by_name = {f["name"]: f for f in manifest["files"]}
    assert by_name["order_items.csv"] == {
        "file_id": "f-items", "name": "order_items.csv", "md5": hashlib.md5(ITEMS).hexdigest(), "size": len(ITEMS),
        "modified_time": "2026-11-30T12:00:00.000Z", "run_id": run_id, "key": f"{dated}/order_items.csv"}
    assert manifest["failed"][0]["name"] == "stores.csv"
    # the pipeline was started once, with the manifest
    executions = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
    assert len(executions) == 1 and executions[0]["name"] == f"drive-{run_id}"
    started = json.loads(aws["sfn"].describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert started["manifest"] == f"s3://{BUCKET}/{dated}/_manifest.json"
    assert started["raw_prefix"] == f"s3://{BUCKET}/drive/latest"
    # the alert names the failed file and why; the logs carry no key and no token
    alerts = _alerts(aws)
    assert len(alerts) == 1 and "stores.csv (f-stores) not copied" in alerts[0] and "md5" in alerts[0]
    logged = caplog.text
    assert "stores.csv" in logged and "BEGIN PRIVATE KEY" not in logged and rsa_key[0][40:80] not in logged
    assert "tok-1" not in logged and "tok-2" not in logged


def test_a_second_run_copies_only_what_changed(aws, drive, rsa_key):
    _put_secret(aws, drive, rsa_key[0])
    drive.add("f-items", "order_items.csv", ITEMS)
    drive.add("f-dates", "date_dim.csv", DATES)
    settings = _settings(aws, drive)
    first = Ingestion(settings, aws["s3"], aws["secrets"], aws["sns"], aws["sfn"]).run()
    assert first.status == "ok" and len(first.copied) == 2
    before = _keys(aws)
    second = Ingestion(settings, aws["s3"], aws["secrets"], aws["sns"], aws["sfn"]).run()
    assert second.status == "nothing changed" and second.unchanged == ["date_dim.csv", "order_items.csv"]
    assert _keys(aws) == before and second.execution_arn is None
    changed = DATES + b"01-02-2024,2024,1,1,Tuesday,FALSE,FALSE,\n"
    drive.add("f-dates", "date_dim.csv", changed)
    third = Ingestion(settings, aws["s3"], aws["secrets"], aws["sns"], aws["sfn"]).run()
    assert [f["name"] for f in third.copied] == ["date_dim.csv"] and third.unchanged == ["order_items.csv"]
    assert _read(aws, "drive/latest/date_dim.csv") == changed
    assert len(aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]) == 2
    assert _alerts(aws) == []


def test_missing_secret_writes_nothing_and_alerts(aws, drive, caplog):
    drive.add("f-items", "order_items.csv", ITEMS)
    caplog.set_level(logging.INFO)
    outcome = Ingestion(_settings(aws, drive), aws["s3"], aws["secrets"], aws["sns"], aws["sfn"]).run()
    assert outcome.status == "failed"
    assert f"secret {SECRET} cannot be read (ResourceNotFoundException)" in outcome.error
    assert _keys(aws) == [] and drive.requests == []
    assert aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"] == []
    alerts = _alerts(aws)
    assert len(alerts) == 1 and SECRET in alerts[0] and "nothing was copied" in alerts[0]
    assert SECRET in caplog.text


def test_folder_that_does_not_exist_writes_nothing_and_alerts(aws, drive, rsa_key):
    _put_secret(aws, drive, rsa_key[0])
    outcome = Ingestion(_settings(aws, drive, folder_id="1NoSuchFolder000000"), aws["s3"], aws["secrets"],
                        aws["sns"], aws["sfn"]).run()
    assert outcome.status == "failed"
    assert outcome.error == ("Drive folder 1NoSuchFolder000000 does not exist or is not shared with the "
                             "service account")
    assert _keys(aws) == []
    assert "1NoSuchFolder000000 does not exist" in _alerts(aws)[0]


def test_wrong_header_is_refused_and_the_others_still_copy(aws, drive, rsa_key):
    _put_secret(aws, drive, rsa_key[0])
    renamed = ITEMS.replace(b"ITEM_PRICE", b"PRICE", 1)
    drive.add("f-items", "order_items.csv", renamed)
    drive.add("f-dates", "date_dim.csv", DATES)
    outcome = Ingestion(_settings(aws, drive), aws["s3"], aws["secrets"], aws["sns"], aws["sfn"]).run()
    assert outcome.status == "partial" and [f["name"] for f in outcome.copied] == ["date_dim.csv"]
    error = outcome.failed[0]["error"]
    assert error.startswith("order_items.csv: header is not the one its bronze spec reads (missing ['ITEM_PRICE'], "
                            "unexpected ['PRICE']")
    assert drive.downloads("f-items") == 1  # a wrong header is terminal: no retry
    assert not any("order_items.csv" in k for k in _keys(aws))
    assert "order_items.csv (f-items) not copied: order_items.csv: header" in _alerts(aws)[0]


def test_settings_refuse_an_incomplete_environment():
    with pytest.raises(ValueError, match="lacks DRIVE_SECRET_ID, KMS_KEY_ID"):
        Settings.from_env({"DRIVE_FOLDER_ID": FOLDER, "RAW_BUCKET": BUCKET, "STATE_MACHINE_ARN": "x",
                           "ALERTS_TOPIC_ARN": "y"})
