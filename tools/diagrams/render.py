"""Render .drawio files with mxGraph (the drawing library of draw.io) in headless Chromium.

Why a browser: mxGraph is the code diagrams.net itself draws with; loading the generated XML
into it and reading back the SVG it draws shows the file really opens and looks as intended,
which no XML check can. Each page of a .drawio file becomes ``<stem>-<page>.svg`` and ``.png``.

Usage (from the project root, after ``npm ci --prefix tools/diagrams``):
    python tools/diagrams/render.py docs/diagrams/architecture.drawio docs/diagrams/data-model.drawio --png
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MXCLIENT = HERE / "node_modules" / "mxgraph" / "javascript" / "mxClient.min.js"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<script>var mxBasePath = "{base}"; var mxLoadResources = false; var mxLoadStylesheets = false;
var mxForceIncludes = false; var mxResourceExtension = ".txt";</script>
<script src="{client}"></script>
<style>body {{ margin: 0; background: #fff; font-family: Helvetica, Arial, sans-serif; }}
#c {{ position: absolute; left: 0; top: 0; overflow: hidden; }}</style></head>
<body><div id="c"></div><script>
function draw(xml) {{
  var container = document.getElementById("c");
  container.innerHTML = "";
  var doc = mxUtils.parseXml(xml);
  var graph = new mxGraph(container);
  graph.setHtmlLabels(true);
  graph.setEnabled(false);
  var codec = new mxCodec(doc);
  codec.decode(doc.documentElement, graph.getModel());
  var b = graph.getGraphBounds();
  container.style.width = Math.ceil(b.x + b.width + 40) + "px";
  container.style.height = Math.ceil(b.y + b.height + 40) + "px";
  graph.refresh();
  var svg = container.querySelector("svg");
  svg.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  svg.setAttribute("width", container.style.width);
  svg.setAttribute("height", container.style.height);
  return {{svg: new XMLSerializer().serializeToString(svg), width: container.style.width, height: container.style.height,
           cells: Object.keys(graph.getModel().cells).length}};
}}
</script></body></html>"""


def pages(drawio_xml: str) -> list[tuple[str, str]]:
    """(page name, mxGraphModel XML) of each uncompressed page of a .drawio file."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(drawio_xml)
    out = []
    for diagram in root.iter("diagram"):
        model = diagram.find("mxGraphModel")
        if model is None:
            raise ValueError(f"page {diagram.get('name')!r} is compressed; only plain XML is rendered")
        out.append((diagram.get("name") or "page", ET.tostring(model, encoding="unicode")))
    return out


def _driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS + ["--window-size=4000,3000", "--allow-file-access-from-files"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def render(files: list[Path], out_dir: Path | None = None, png: bool = False) -> list[Path]:
    """Render every page of every file; returns the written paths (SVG, and PNG if asked)."""
    if not MXCLIENT.is_file():
        raise SystemExit(f"{MXCLIENT} is missing: run `npm ci --prefix {HERE}` first")
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "render.html"
        html.write_text(_PAGE.format(base=MXCLIENT.parent.as_uri(), client=MXCLIENT.as_uri()), encoding="utf-8")
        driver = _driver()
        try:
            driver.get(html.as_uri())
            for path in files:
                target = out_dir or path.parent
                target.mkdir(parents=True, exist_ok=True)
                for name, model in pages(path.read_text(encoding="utf-8")):
                    result = driver.execute_script("return draw(arguments[0]);", model)
                    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
                    svg_path = target / f"{path.stem}-{slug}.svg"
                    svg_path.write_text(result["svg"] + "\n", encoding="utf-8")
                    written.append(svg_path)
                    if png:
                        width, height = int(result["width"][:-2]), int(result["height"][:-2])
                        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                            "width": width, "height": height, "deviceScaleFactor": 1.5, "mobile": False})
                        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
                            "format": "png", "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
                        png_path = target / f"{path.stem}-{slug}.png"
                        png_path.write_bytes(base64.b64decode(shot["data"]))
                        written.append(png_path)
        finally:
            driver.quit()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="folder for the renderings (default: beside each file)")
    parser.add_argument("--png", action="store_true", help="also write PNG screenshots")
    args = parser.parse_args(argv)
    for path in render(args.files, args.out, args.png):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())



