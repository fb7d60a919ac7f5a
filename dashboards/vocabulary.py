"""The project's shared definitions: one file (``vocabulary.yaml`` at the project root) that
every page reads, so "at risk" means one thing everywhere.

Why a file of its own: medallion.yaml is strict engine config; this is business meaning. Each
definition names the column that carries it in every mart (``churn_status``), a label, one
sentence, and labels/colours of its values; ``contrasts`` hold the one sentence a page shows
where a rule and a model answer the same question differently. Values may use ``${var:...}``,
so the thresholds written here are the ones the marts ran with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from dashboards.chart_models import Strict

FILE = "vocabulary.yaml"


class Value(Strict):
    """One value of a defined column (``at_risk`` of ``churn_status``)."""

    label: str
    means: str | None = None
    color: str | None = None


class Term(Strict):
    """A defined measure or status: its label, one sentence, the column carrying it, its values."""

    label: str
    means: str
    column: str | None = Field(None, description="the column holding it, in every mart that has it")
    values: dict[str, Value] = Field(default_factory=dict)


class Contrast(Strict):
    """Where a rule and a model disagree: the sentence that explains the difference."""

    rule: str
    model: str
    sentence: str


class Vocabulary(Strict):
    """Shared definitions and the dashboards' defaults."""

    min_group_size: int = Field(30, ge=1, description="groups below this size are greyed or hidden")
    terms: dict[str, Term] = Field(default_factory=dict)
    contrasts: list[Contrast] = Field(default_factory=list)

    def term(self, ref: str | None) -> tuple[Term | None, Value | None]:
        """``name`` or ``name.value`` -> (term, value)."""
        if not ref:
            return None, None
        name, _, value = ref.partition(".")
        term = self.terms.get(name)
        return term, (term.values.get(value) if term and value else None)

    def for_column(self, column: str | None) -> Term | None:
        """The term a column carries (by ``column:``, else by the term's own name)."""
        if not column:
            return None
        return next((t for t in self.terms.values() if t.column == column), None) or \
            (self.terms.get(column) if self.terms.get(column) and not self.terms[column].column else None)

    def value_label(self, column: str | None, value: Any) -> Any:
        """The readable label of a column's value (``at_risk`` -> ``At risk``), else the value."""
        term = self.for_column(column)
        found = term.values.get(str(value)) if term else None
        return found.label if found else value

    def colors(self, column: str | None) -> dict[str, str]:
        """Label -> colour for a defined column's values."""
        term = self.for_column(column)
        return {v.label: v.color for v in term.values.values() if v.color} if term else {}

    def contrast(self, rule: str | None, model: str | None) -> str | None:
        """The sentence for a (rule term, model term) pair."""
        r, m = (rule or "").split(".")[0], (model or "").split(".")[0]
        return next((c.sentence for c in self.contrasts if c.rule == r and c.model == m), None)


def load_vocabulary(root: Path, variables: dict[str, Any]) -> Vocabulary:
    """The project's vocabulary (empty when it has no file); raises located SpecErrors."""
    from engine.spec.interpolate import interpolate
    from engine.spec.validate_errors import validate_model
    from engine.spec.yaml_source import load_yaml_file

    path = root / FILE
    if not path.is_file():
        return Vocabulary()
    doc = load_yaml_file(path, Path(FILE))
    return validate_model(Vocabulary, interpolate(doc, variables), doc)
