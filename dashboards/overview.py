"""The landing page: what each page answers, how fresh the data is, and the shared definitions.

Why: the navigation's default page is served at "/" only, so the marts all keep deep links of
their own; and a reader meeting "at risk" on two pages finds its one definition here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import context
from dashboards.catalog import PageSpec
from dashboards.session import as_of_line


def render_overview(pages: list[PageSpec], links: dict[str, Any]) -> None:
    """Draw the page."""
    st.title("Dashboards")
    run_id, finished = context.last_publish()
    st.caption(as_of_line(finished, run_id))
    for page in pages:
        with st.container(border=True):
            st.page_link(links[page.slug], label=f"**{page.title}**", icon=":material/arrow_forward:")
            if page.error:
                st.error("This page's dashboard block is invalid: open it for the errors.")
            elif page.board and page.board.description:
                st.caption(page.board.description)
            if page.sections:
                st.caption("Also on this page: " + ", ".join(s.title for s in page.sections))
    vocabulary = context.vocabulary()
    if vocabulary.terms:
        st.subheader("Shared definitions")
        st.caption("Declared once in vocabulary.yaml; every page uses these labels and meanings.")
        rows = []
        for name, term in vocabulary.terms.items():
            rows.append({"term": term.label, "column": term.column or name, "means": term.means})
            for key, value in term.values.items():
                rows.append({"term": f"    {value.label}", "column": f"{term.column or name} = {key}",
                             "means": value.means or ""})
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        for contrast in vocabulary.contrasts:
            rule, model = vocabulary.terms.get(contrast.rule), vocabulary.terms.get(contrast.model)
            if rule and model:
                st.markdown(f"**{rule.label} vs {model.label}:** {contrast.sentence}")
