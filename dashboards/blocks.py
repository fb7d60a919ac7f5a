"""The extra blocks a page may declare: ``note``, ``signal_check``, ``model_report``
(:mod:`dashboards.model_report`), ``rule_vs_model``.

Why blocks instead of per-page Python: what makes one page special (a plainly stated fact about
the data, a fitted model's report) is declared in its YAML and drawn by generic
code; nothing here knows which table it is drawing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.filters import Where
from dashboards.formatting import show
from dashboards.model_report import render_model_report
from dashboards.schema import ModelReport, Note, RuleVsModel, SignalCheck
from dashboards.sql import ident, portable


def render_block(block: Any, table: str, spec: str, where: Where, columns: dict[str, Any]) -> None:
    """Draw one block under the current filters."""
    if isinstance(block, Note):
        _note(block, table, where, columns)
    elif isinstance(block, SignalCheck):
        _signal(block, table, where, columns)
    elif isinstance(block, ModelReport):
        render_model_report(block, spec)
    elif isinstance(block, RuleVsModel):
        _rule_vs_model(block, table, where, columns)


def _rule_vs_model(block: RuleVsModel, table: str, where: Where, columns: dict[str, Any]) -> None:
    """The rule's answer and the model's, side by side, labelled, with the sentence on why they differ."""
    vocabulary = context.vocabulary()
    st.markdown(f"**{block.title}**")
    cols = st.columns(2)
    for col, side in zip(cols, (block.rule, block.model)):
        if side.table:  # another page's table: the whole table, this page's filters do not apply
            value = _scalar(side.value, side.table, Where(), {})
        else:
            value = _scalar(side.value, table, where, columns)
        term, item = vocabulary.term(side.term)
        meaning = (item.means if item and item.means else None) or (term.means if term else None)
        col.metric(side.label, show(value, block.format), border=True,
                   help=(meaning + "\n\n" if meaning else "") + f"`{side.value}`"
                   + (f" on `{side.table}`" if side.table else ""))
    sentence = block.difference or vocabulary.contrast(block.rule.term, block.model.term)
    if sentence:
        st.caption(f"**Why they differ:** {sentence}")


def _scalar(expr: str, table: str, where: Where, columns: dict[str, Any]) -> Any:
    frame = context.query("SELECT " + portable(expr, context.dialect()) + " AS v FROM " + ident(table)
                          + where.sql(list(columns)))
    return frame.iloc[0, 0] if len(frame) else None


def _note(block: Note, table: str, where: Where, columns: dict[str, Any]) -> None:
    text = block.text
    if block.value:
        text = text.replace("{value}", show(_scalar(block.value, table, where, columns), block.format))
    {"info": st.info, "warning": st.warning, "success": st.success, "plain": st.markdown}[block.level](text)


def _signal(block: SignalCheck, table: str, where: Where, columns: dict[str, Any]) -> None:
    value = _scalar(block.condition, table, Where(), columns)  # a fact about the whole table
    if value is None or pd.isna(value):
        st.warning(f"**{block.label}:** cannot tell — the table is empty.")
    elif bool(value):
        st.success(f"**{block.label}: yes.** {block.when_true}")
    else:
        st.warning(f"**{block.label}: no.** {block.when_false}")
