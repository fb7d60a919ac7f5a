"""docs/architecture.md's pipeline diagram is the one `medallion graph` generates from the specs."""

from __future__ import annotations

from pathlib import Path

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_architecture_diagram_matches_the_specs(capsys):
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("```mermaid\n") + len("```mermaid\n")
    documented = text[start:text.index("```", start)].strip()
    assert main(["graph", "--profile", "aws", "--project-dir", str(ROOT)]) == 0
    generated = capsys.readouterr().out.strip()
    assert documented == generated, ("docs/architecture.md is out of date: paste the output of "
                                     "`medallion graph --profile aws` into its first mermaid block")


GENERATED = {  # committed file -> the `medallion graph` format that generates it
    "docs/diagrams/architecture.drawio": "drawio",
    "docs/diagrams/data-model.drawio": "erd-drawio",
    "docs/diagrams/data-model.mmd": "erd",
}


def test_committed_diagrams_match_the_specs(capsys):
    for path, format_ in GENERATED.items():
        assert main(["graph", "--profile", "aws", "--format", format_, "--project-dir", str(ROOT)]) == 0
        generated = capsys.readouterr().out
        assert (ROOT / path).read_text(encoding="utf-8") == generated, (
            f"{path} is out of date: medallion graph --profile aws --format {format_} > {path}, "
            "then python tools/diagrams/render.py --png on the .drawio files")


def _solution_design():
    import importlib.util

    spec = importlib.util.spec_from_file_location("solution_design", ROOT / "tools" / "docs" / "solution_design.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_solution_design_generated_sections_match_the_project():
    tool = _solution_design()
    current = (ROOT / "docs" / "solution-design.md").read_text(encoding="utf-8")
    assert tool.sync(current) == current, "docs/solution-design.md is out of date: python tools/docs/solution_design.py"
    for name in ("dashboards", "diagrams", "data-model", "tables", "cost"):
        assert f"<!-- generated:start {name} -->" in current and f"<!-- generated:end {name} -->" in current


def test_solution_design_cost_worked_by_hand():
    # scale 1: all 22 specs under a minute -> 22 x 60 s x 2 DPU = 0.7333 DPU-h x $0.44 = $0.32;
    # scale 10: silver.order_items 94.5 s (billed 95), 21 others under a minute -> (1260 + 95) x 2 / 3600
    # = 0.7528 DPU-h -> $0.33 (benchmarks/results/log_s10_20261125T073734_engine_1.txt)
    text = (ROOT / "docs" / "solution-design.md").read_text(encoding="utf-8")
    assert "| 1 (≈ 200 thousand) | 22 | 53.2 | `silver.order_items` 11.5 s | 0.733 | $0.32 |" in text
    assert "| 10 (≈ 2 million) | 22 | 267.0 | `silver.order_items` 94.5 s | 0.753 | $0.33 |" in text


def test_solution_design_has_what_the_approver_needs():
    text = (ROOT / "docs" / "solution-design.md").read_text(encoding="utf-8")
    for heading in ("## 1. Problem and business goals", "## 2. The seven metrics", "## 3. Architecture",
                    "## 4. Data model", "## 5. Security", "## 6. Schedule and failure reload", "## 7. Operations",
                    "## 8. Cost estimate per run on AWS", "## 9. Open questions for the SME", "## 10. Sign-off"):
        assert heading in text, heading
    assert "| Name | Role | Date | Decision |" in text
    for link in ("diagrams/architecture-architecture.png", "diagrams/architecture-lineage.png",
                 "diagrams/data-model-data-model.png"):
        assert (ROOT / "docs" / link).is_file() and f"({link})" in text
