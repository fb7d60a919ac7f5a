"""Issue 24 item 4: who is signed in (the ALB's OIDC header), "data as of", and a query cache that
a new publish invalidates before its TTL runs out."""

from __future__ import annotations

import base64
import json

import duckdb
import pytest

from dashboards import context
from dashboards.session import as_of_line, signed_in_user
from dashboards.sql import Sql
from tests.dashboards.conftest import ROOT


def _jwt(claims: object) -> str:
    """An ALB-shaped token: header.payload.signature, each base64url without padding."""
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")  # noqa: E731
    return f"{part({'alg': 'ES256', 'kid': 'k', 'signer': 'arn:aws:elasticloadbalancing:…'})}.{part(claims)}.c2ln"


@pytest.mark.parametrize(("headers", "shown"), [
    ({"X-Amzn-Oidc-Data": _jwt({"name": "Ada Lovelace", "email": "ada@corp.test"})}, "Ada Lovelace"),
    # Cognito's claims carry no name: the e-mail, then the user name
    ({"x-amzn-oidc-data": _jwt({"sub": "1f2e", "email": "grace@corp.test", "username": "grace"})}, "grace@corp.test"),
    ({"x-amzn-oidc-data": _jwt({"sub": "1f2e", "cognito:username": "alan"})}, "alan"),
    ({"x-amzn-oidc-data": _jwt({"sub": "1f2e"})}, "1f2e"),
    ({"x-amzn-oidc-data": _jwt({"name": "", "email": None})}, None),
    ({"x-amzn-oidc-data": "not-a-token"}, None),
    ({"x-amzn-oidc-data": "a.%%%.c"}, None),
    ({"x-amzn-oidc-data": _jwt(["a", "list"])}, None),
    ({"x-amzn-oidc-identity": "1f2e"}, None),  # only the data header names the user
    ({}, None),
    (None, None),
])
def test_signed_in_user_from_the_alb_header(headers, shown):
    assert signed_in_user(headers) == shown


def test_as_of_line():
    assert as_of_line(None, None) == "No published run yet: run `medallion run` to build the tables."
    assert as_of_line("2024-07-01T07:12:30+00:00", "20240701T070000000Z-abcdef") == (
        "published 2024-07-01 07:12 UTC (run `20240701T070000000Z-abcdef`)")
    assert as_of_line("2024-07-01T07:12:30+00:00", "r1", "2024-06-30") == (
        "Data as of **2024-06-30** · published 2024-07-01 07:12 UTC (run `r1`)")


def test_a_new_publish_invalidates_cached_queries_before_the_ttl(fresh_lake, use_project):
    """Queries are cached for MEDALLION_DASHBOARD_TTL (300 s) keyed by the newest finished run; a
    run finishing changes the key, so the next page shows the new data at once (the run store is
    polled every 15 s; the test clears that poll instead of waiting)."""
    from engine.run.record import RunRecord, RunStore

    use_project(ROOT, [f"lake_dir={fresh_lake}"])
    count = Sql("SELECT count(*) AS n FROM gold.sales_trends")
    assert context.TTL == 300
    assert int(context.query(count)["n"].iloc[0]) == 6  # the six hand-written rows (conftest.SALES)
    with duckdb.connect(str(fresh_lake / "warehouse.duckdb")) as con:  # the warehouse changes ...
        con.execute("INSERT INTO gold.sales_trends (order_date, restaurant_id, revenue) "
                    "VALUES ('2024-01-11', 'R9', 1.0)")
    context._last_publish.clear()
    assert int(context.query(count)["n"].iloc[0]) == 6  # ... but no run finished: the cached answer stands
    RunStore(fresh_lake / "_runs").save(RunRecord(
        run_id="20240111T000000000Z-bbbbbb", project="test", profile="local", status="ok",
        started_at="2024-01-11T00:00:00+00:00", finished_at="2024-01-11T00:01:00+00:00"))
    context._last_publish.clear()  # the 15 s poll of the run store
    assert context.last_publish() == ("20240111T000000000Z-bbbbbb", "2024-01-11T00:01:00+00:00")
    assert int(context.query(count)["n"].iloc[0]) == 7
