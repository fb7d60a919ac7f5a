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
