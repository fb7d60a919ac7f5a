"""The Streamlit entry point: one page per spec with a ``dashboard:`` block, plus Pipeline health.

``medallion dashboard`` runs ``streamlit run dashboards/app.py`` with the project, profile and
variables in the environment (see :mod:`dashboards.context`). The navigation is always built,
so a deep link ``/<page>`` opens that page even when the warehouse is empty; an unreadable
project, an empty or unreachable warehouse, a table not built yet become one clear message on
the page; anything unexpected is a message plus a log line, never a traceback.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from dashboards import context
from dashboards.catalog import PageSpec
from dashboards.session import LOG, as_of_line, signed_in_user
from dashboards.source import WarehouseUnavailable

HEALTH_SLUG, HEALTH_TITLE = "pipeline_health", "Pipeline health"
OVERVIEW_SLUG, OVERVIEW_TITLE = "overview", "Overview"
STYLE = """<style>
[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] div {white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important;}
</style>"""


def failed(what: str, exc: BaseException) -> None:
    """An unexpected failure: one message on the page, the traceback in the app's log."""
    LOG.error("%s failed", what, exc_info=exc)
    st.error(f"{what} could not be drawn: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
             "(the full error is in the dashboard's log).")


def _mart_page(page: PageSpec) -> Any:
    def draw() -> None:
        """Draw the mart page; a warehouse that stops answering mid-page is a warning."""
        from dashboards.page import render_page

        problem = warehouse_problem()
        if problem:
            st.title(page.title)
            st.warning(f"No data to show: {problem}.")
            return
        try:
            render_page(page, context.workspace().project.root)
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


def _overview_page(pages: list[PageSpec], links: dict[str, Any]) -> Any:
    def draw() -> None:
        """The landing page: every page with its description, and the shared definitions."""
        from dashboards.overview import render_overview

        render_overview(pages, links)
    draw.__name__ = "page_overview"
    return draw


def _project_page(exc: Exception) -> Any:
    def draw() -> None:
        """The project itself cannot be opened: say why and how to fix it."""
        st.title("Dashboards")
        st.error(f"The project could not be opened: {exc}")
        st.caption("Run the dashboards from the project folder, or pass `--project-dir`.")
    draw.__name__ = "page_project_error"
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
        LOG.warning("warehouse check failed: %s", exc)
        return f"the warehouse did not answer: {exc}"
    if int(frame.iloc[0, 0]) == 0:
        return "the warehouse is empty: run `medallion run` to build and publish the tables"
    return None


def _sidebar(ws: Any) -> None:
    try:
        st.sidebar.caption(f"{context.source().describe} · profile {ws.project.profile_name}")
        run_id, finished = context.last_publish()
        st.sidebar.caption(as_of_line(finished, run_id))
    except Exception as exc:  # noqa: BLE001 - the sidebar never takes the page down
        LOG.warning("sidebar: %s", exc)
    user = signed_in_user(dict(st.context.headers) if st.context.headers else None)
    if user:
        st.sidebar.caption(f"Signed in as **{user}**")


def main(start: str | None = None) -> None:
    """Build the navigation and draw the selected page (``start``: the default page's slug)."""
    st.set_page_config(page_title="Medallion dashboards", layout="wide", page_icon=":bar_chart:")
    st.markdown(STYLE, unsafe_allow_html=True)
    try:
        ws = context.workspace()
        pages, _ = context.pages()
    except Exception as exc:  # noqa: BLE001 - the engine's errors carry their own message
        LOG.error("project could not be opened", exc_info=exc)
        st.navigation([st.Page(_project_page(exc), title="Dashboards", url_path="dashboards")]).run()
        return
    # The default page is served at "/" only, so it is the overview: every mart page keeps its own
    # URL and a deep link /<page> opens it (``start`` makes a page the default for in-process tests).
    links: dict[str, Any] = {}
    overview = st.Page(_overview_page(pages, links), title=OVERVIEW_TITLE, url_path=OVERVIEW_SLUG,
                       icon=":material/dashboard:", default=start in (None, OVERVIEW_SLUG))
    entries = [st.Page(_mart_page(p), title=p.title, url_path=p.slug,
                       icon=p.board.icon if p.board and p.board.icon else None, default=p.slug == start)
               for p in pages]
    links.update({p.slug: e for p, e in zip(pages, entries)})
    health = st.Page(_health_page(pages), title=HEALTH_TITLE, url_path=HEALTH_SLUG,
                     icon=":material/monitor_heart:", default=start == HEALTH_SLUG)
    nav = st.navigation({"": [overview], "Marts": entries, "Operations": [health]})
    _sidebar(ws)
    try:
        nav.run()
    except ScriptControlException:  # st.rerun / st.stop: Streamlit's own control flow
        raise
    except Exception as exc:  # noqa: BLE001 - last line of defence: a message, and the log line
        failed(f"The page '{nav.title}'", exc)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    main(os.environ.get("MEDALLION_DASHBOARD_START") or None)
