"""The committed .drawio files drawn by a real renderer: mxGraph (npm ``mxgraph``) in headless Chromium.

The renderer is the drawing library of draw.io itself; the SVG it draws must hold every box the
file declares, with its label, so the file opens and shows what the specs say.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "diagrams"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def renderer(tmp_path_factory):
    if not Path("/usr/bin/chromium").exists() or not shutil.which("npm"):
        reason = "needs Chromium (/usr/bin/chromium) and npm (apt-get install chromium npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    # the tool and its npm packages in a folder of this test's own (never tools/diagrams/node_modules)
    tool = tmp_path_factory.mktemp("diagram-tool")
    for name in ("render.py", "package.json", "package-lock.json"):
        shutil.copy2(TOOL / name, tool / name)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=tool, check=True,
                   timeout=300, capture_output=True)
    spec = importlib.util.spec_from_file_location("diagram_render", tool / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(svg: str) -> str:
    """All text the SVG shows (SVG <text> and the HTML labels mxGraph puts in <foreignObject>)."""
    root = ET.fromstring(svg)
    return re.sub(r"\s+", " ", " ".join(t for t in root.itertext()))


def test_renders_every_labelled_box(renderer, tmp_path):
    files = [ROOT / "docs/diagrams/architecture.drawio", ROOT / "docs/diagrams/data-model.drawio"]
    written = renderer.render(files, tmp_path, png=True)
    names = sorted(p.name for p in written)
    assert names == ["architecture-architecture.png", "architecture-architecture.svg", "architecture-lineage.png",
                     "architecture-lineage.svg", "data-model-data-model.png", "data-model-data-model.svg"]
    arch = (tmp_path / "architecture-architecture.svg").read_text(encoding="utf-8")
    shown = _text(arch)
    for label in ("Google Drive folder", "Lambda: Drive ingestion", "S3 raw bucket", "RDS PostgreSQL",
                  "Glue job run per spec: gold", "S3 lake", "Redshift Serverless", "Streamlit dashboards",
                  "KMS key (rotated)", "VPC S3 gateway endpoint", "SNS alerts", "Step Functions"):
        assert label in shown, label
    root = ET.fromstring(arch)
    ns = "{http://www.w3.org/2000/svg}"
    # 18 boxes on the architecture page, counted by hand: schedule, Drive, Lambda, its secret, raw,
    # RDS, 3 job boxes, lake, Redshift, Streamlit, catalog, Step Functions, SNS, endpoint, KMS, secrets
    assert len(root.findall(f".//{ns}rect")) == 18
    assert len(root.findall(f".//{ns}path")) >= 20  # the arrows (and their heads)
    lineage = _text((tmp_path / "architecture-lineage.svg").read_text(encoding="utf-8"))
    for table in ("bronze.order_items", "silver.order_lines", "gold.customer_lifetime_value", "gold.sales_trends"):
        assert table in lineage
    model = _text((tmp_path / "data-model-data-model.svg").read_text(encoding="utf-8"))
    assert "gold.order_facts" in model and "PK order_id" in model and "join on order_id, lineitem_id" in model
    png = (tmp_path / "architecture-architecture.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
