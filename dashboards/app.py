"""The Streamlit entry point: one page per spec with a ``dashboard:`` block, plus Pipeline health.

``medallion dashboard`` runs ``streamlit run dashboards/app.py`` with the project, profile and
variables in the environment (see :mod:`dashboards.context`). An unreadable project, an empty or
unreachable warehouse become one clear message on the page, never a traceback.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from dashboards import context
from dashboards.catalog import PageSpec, load_pages
from dashboards.source import WarehouseUnavailable

HEALTH_SLUG, HEALTH_TITLE = "pipeline_health", "Pipeline health"


def _project_error(exc: Exception) -> None:
    st.title("Dashboards")
    st.error(f"The project could not be opened: {exc}")
    st.caption("Run the dashboards from the project folder, or pass `--project-dir`.")


def _mart_page(page: PageSpec, root: Any) -> Any:
    def draw() -> None:
        """Draw the mart page; a warehouse that stops answering mid-page is a warning."""
        from dashboards.page import render_page

        try:
            render_page(page, root)
        except WarehouseUnavailable as exc:
            st.warning(f"The warehouse is not available: {exc}")
    draw.__name__ = f"page_{page.slug}"
    return draw


def _health_page(pages: list[PageSpec]) -> Any:
    def draw() -> None:
        """Draw the health page (it needs the run store, not the warehouse)."""
        from dashboards.health import render_health

        render_health(pages)
    draw.__name__ = "page_pipeline_health"
    return draw


def warehouse_problem() -> str | None:
    """None when the warehouse answers and holds tables, else the sentence to show."""
    from dashboards.sql import Sql

    try:
        frame = context.query(Sql("SELECT count(*) AS n FROM information_schema.tables "
                                  "WHERE table_schema NOT IN ('information_schema', 'pg_catalog', 'main')"))
    except WarehouseUnavailable as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - any driver failure is a message here
        return f"the warehouse did not answer: {exc}"
    if int(frame.iloc[0, 0]) == 0:
        return "the warehouse is empty: run `medallion run` to build and publish the tables"
    return None


def main(start: str | None = None) -> None:
    """Build the navigation and draw the selected page (``start``: the default page's slug)."""
    st.set_page_config(page_title="Medallion dashboards", layout="wide", page_icon=":bar_chart:")
    try:
        ws = context.workspace()
        pages = load_pages(ws.graph, ws.project.root)
    except Exception as exc:  # noqa: BLE001 - the engine's errors carry their own message
        _project_error(exc)
        return
    problem = warehouse_problem()
    entries = [st.Page(_mart_page(p, ws.project.root), title=p.title, url_path=p.slug, icon=p.board.icon
                       if p.board and p.board.icon else None, default=(p.slug == start) or
                       (start is None and i == 0)) for i, p in enumerate(pages)]
    entries.append(st.Page(_health_page(pages), title=HEALTH_TITLE, url_path=HEALTH_SLUG,
                           icon=":material/monitor_heart:", default=start == HEALTH_SLUG))
    nav = st.navigation({"Marts": entries[:-1], "Operations": entries[-1:]})
    st.sidebar.caption(f"{context.source().describe} · profile {ws.project.profile_name}")
    if problem and nav.title != HEALTH_TITLE:  # the run store needs no warehouse
        st.title(nav.title)
        st.warning(f"No data to show: {problem}.")
        return
    nav.run()


if __name__ == "__main__":
    main(os.environ.get("MEDALLION_DASHBOARD_START") or None)
