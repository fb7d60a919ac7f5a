"""The draw.io diagrams: valid mxGraph XML, every box placed without overlap, the content the specs say.

Expected relationships and boxes are read off the spec files by hand (named in each test), not
recomputed with the code under test; the overlap check is written here independently.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _generate(capsys, format_: str) -> str:
    assert main(["graph", "--profile", "aws", "--format", format_, "--project-dir", str(ROOT)]) == 0
    return capsys.readouterr().out


def _pages(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "mxfile"
    return {d.get("name"): d.find("mxGraphModel/root") for d in root.findall("diagram")}


def _vertices(page: ET.Element) -> dict[str, tuple[float, float, float, float, str]]:
    out = {}
    for cell in page.findall("mxCell[@vertex='1']"):
        g = cell.find("mxGeometry")
        out[cell.get("id")] = (float(g.get("x")), float(g.get("y")), float(g.get("width")), float(g.get("height")),
                               cell.get("value"))
    return out


def _check_model(page: ET.Element) -> None:
    cells = page.findall("mxCell")
    ids = [c.get("id") for c in cells]
    assert len(ids) == len(set(ids)), "cell ids must be unique"
    assert ids[:2] == ["0", "1"] and cells[1].get("parent") == "0"
    vertices = _vertices(page)
    for edge in page.findall("mxCell[@edge='1']"):
        assert edge.get("source") in vertices and edge.get("target") in vertices, edge.attrib
        assert edge.find("mxGeometry").get("relative") == "1"
    boxes = list(vertices.items())
    for i, (a, (ax, ay, aw, ah, _)) in enumerate(boxes):
        assert aw > 0 and ah > 0
        for b, (bx, by, bw, bh, _) in boxes[i + 1:]:
            separate = ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
            assert separate, f"{a} overlaps {b}"


def test_architecture_page_shows_the_deployed_services(capsys):
    pages = _pages(_generate(capsys, "drawio"))
    assert list(pages) == ["Architecture", "Lineage"]
    arch = pages["Architecture"]
    _check_model(arch)
    labels = " | ".join(v[4] for v in _vertices(arch).values())
    for service in ("Google Drive folder", "Lambda: Drive ingestion", "EventBridge schedule", "S3 raw bucket",
                    "RDS PostgreSQL", "Glue job run per spec: bronze", "Glue job run per spec: silver",
                    "Glue job run per spec: gold", "S3 lake", "Glue Data Catalog", "Redshift Serverless",
                    "Streamlit dashboards", "KMS key", "VPC S3 gateway endpoint", "SNS alerts", "Step Functions",
                    "Secrets Manager"):
        assert service in labels, service
    # counted by hand: pipelines/bronze has 3 specs, pipelines/silver 5, marts 14
    assert "3 spec(s)" in labels and "5 spec(s)" in labels and "14 spec(s)" in labels
    # the medallion.yaml aws profile's drive schedule
    assert "cron(30 6 * * ? *)" in labels
    edges = {(e.get("source"), e.get("target")) for e in arch.findall("mxCell[@edge='1']")}
    for flow in [("drive", "lambda"), ("lambda", "raw"), ("raw", "rds"), ("rds", "job-bronze"),
                 ("job-bronze", "job-silver"), ("job-silver", "job-gold"), ("job-gold", "lake"),
                 ("lake", "warehouse"), ("warehouse", "dashboards"), ("lambda", "orchestration"),
                 ("orchestration", "alerts"), ("lambda", "alerts")]:
        assert flow in edges, flow


def test_lineage_page_has_a_box_per_spec_and_an_arrow_per_read(capsys):
    lineage = _pages(_generate(capsys, "drawio"))["Lineage"]
    _check_model(lineage)
    names = {v[4] for v in _vertices(lineage).values()}
    assert len(names) == 22 and {"bronze.order_items", "silver.orders", "gold.pricing_effectiveness"} <= names
    edges = {(e.get("source"), e.get("target")) for e in lineage.findall("mxCell[@edge='1']")}
    # marts/pricing_effectiveness.yaml reads silver.order_lines, gold.order_facts, gold.price_change_events
    for up in ("t-silver-order_lines", "t-gold-order_facts", "t-gold-price_change_events"):
        assert (up, "t-gold-pricing_effectiveness") in edges
    assert len(edges) == 36  # the inputs: lines of docs/architecture.md's mermaid block ("-->")
    x = {v[4]: v[0] for v in _vertices(lineage).values()}
    assert x["bronze.order_items"] < x["silver.order_items"] < x["silver.order_lines"] < x["gold.order_facts"]


def test_data_model_erd(capsys):
    text = _generate(capsys, "erd")
    assert text.startswith("erDiagram\n")
    # pipelines/silver/order_lines.yaml: join items (silver.order_items, key lineitem_id) with the
    # options (silver.order_item_options, keys order_id, lineitem_id, group, name) on order_id, lineitem_id
    assert '  silver_order_items ||--o{ silver_order_item_options : "join on order_id, lineitem_id"\n' in text
    # marts/customer_lifetime_value.yaml: keys [user_id], reads gold.order_facts whose user_id is declared
    assert '  gold_order_facts }o--|| gold_customer_lifetime_value : "rolls up on user_id"\n' in text
    # gold.order_facts keeps silver.orders' grain (order_id)
    assert '  silver_orders ||--|| gold_order_facts : "same grain on order_id"\n' in text
    # bronze never appears: the model is of the published layers
    assert "bronze" not in text
    entity = text[text.index("  gold_as_of {"):]
    entity = entity[:entity.index("  }")]
    assert entity.splitlines()[1:] == ["    date as_of PK", "    text as_of_variable",
                                       "    date data_first_order_date", "    date data_last_order_date"]
    page = _pages(_generate(capsys, "erd-drawio"))["Data model"]
    _check_model(page)
    assert len(_vertices(page)) == 19  # 5 silver + 14 gold tables
    assert len(page.findall("mxCell[@edge='1']")) == text.count("--")


def test_unknown_format_is_a_usage_error(capsys):
    assert main(["graph", "--format", "drawoi", "--project-dir", str(ROOT)]) == 2
    assert "did you mean 'drawio'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_lineage_formats_still_work(capsys, fmt):
    assert "gold.order_facts" in _generate(capsys, fmt)
