"""The app's connection to a project: which folder, profile and variables, and cached queries.

Why environment variables: ``medallion dashboard`` starts ``streamlit run`` in a new process and
AppTest runs the script in-process; both can set the environment, neither passes arguments the
same way. Query results are cached keyed by the source, the last publish (the newest finished
run, read from the run store at most every 15 s: a new publish is seen within that) and the SQL
text with its parameters, for at most ``MEDALLION_DASHBOARD_TTL`` seconds (default 300). The project is re-opened when a spec YAML,
medallion.yaml or vocabulary.yaml changes, so a new mart is a new page without a restart.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboards.env import ENV_DIR, ENV_PROFILE, ENV_TTL, ENV_VARS
from dashboards.source import Source, open_source
from dashboards.sql import Sql

TTL = int(os.environ.get(ENV_TTL, "300"))
_SOURCES: dict[str, Source] = {}


def settings() -> tuple[str | None, str | None, list[str]]:
    """(project dir, profile, --var list) from the environment ``medallion dashboard`` sets."""
    return (os.environ.get(ENV_DIR) or None, os.environ.get(ENV_PROFILE) or None,
            json.loads(os.environ.get(ENV_VARS) or "[]"))


def source_key() -> str:
    """A string naming the current project/profile/variables (cache key of everything)."""
    return json.dumps(settings())


_FOLDERS: dict[str, tuple[Path, list[str]]] = {}  # settings -> (root, spec dirs) of the last opening


def workspace() -> Any:
    """The opened project, re-opened when its YAML changes; raises the engine's errors."""
    key = source_key()
    ws = _workspace(key, _yaml_stamp(key))
    _FOLDERS[key] = (ws.project.root, list(ws.project.spec_dirs))
    return ws


def _yaml_stamp(key: str) -> str:
    """Names and modification times of the files that define the pages (cheap: a few dozen stats)."""
    if key not in _FOLDERS:
        return ""
    root, dirs = _FOLDERS[key]
    files = [root / "medallion.yaml", root / "vocabulary.yaml"]
    for folder in dirs:
        files += sorted((root / folder).rglob("*.y*ml"))
    return ";".join(f"{f}:{f.stat().st_mtime_ns}" for f in files if f.is_file())


@st.cache_resource(show_spinner=False, max_entries=4)
def _workspace(key: str, stamp: str) -> Any:
    from engine.run.workspace import Workspace

    project_dir, profile, var_args = json.loads(key)
    return Workspace.open(Path(project_dir) if project_dir else None, profile, var_args)


def pages() -> tuple[list[Any], Any]:
    """(pages, vocabulary) of the current project (re-read with it)."""
    ws = workspace()
    return _pages(source_key(), _yaml_stamp(source_key()), ws)


@st.cache_resource(show_spinner=False, max_entries=4)
def _pages(key: str, stamp: str, _ws: Any) -> tuple[list[Any], Any]:
    from dashboards.catalog import load_pages
    from dashboards.vocabulary import load_vocabulary

    vocabulary = load_vocabulary(_ws.project.root, _ws.project.variables)
    return load_pages(_ws.graph, _ws.project.root, vocabulary), vocabulary


def vocabulary() -> Any:
    """The project's shared definitions."""
    return pages()[1]


def last_publish() -> tuple[str | None, str | None]:
    """(run id, finished at) of the newest finished run: the data the warehouse holds."""
    return _last_publish(source_key())


@st.cache_data(ttl=15, show_spinner=False)
def _last_publish(key: str) -> tuple[str | None, str | None]:
    try:
        records = workspace().store.list()
    except Exception:  # noqa: BLE001 - no run store yet: nothing published
        return None, None
    done = [r for r in records if r.finished_at]
    return (done[-1].run_id, done[-1].finished_at) if done else (None, None)


def source() -> Source:
    """The warehouse of the current settings."""
    key = source_key()
    if key not in _SOURCES:
        _SOURCES[key] = open_source(workspace())
    return _SOURCES[key]


def query(sql: Sql) -> pd.DataFrame:
    """Rows of a parameterised query, cached for TTL seconds (failures are not cached)."""
    return _cached(source_key(), last_publish()[0], sql.text, sql.params).copy()


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=2000)
def _cached(key: str, publish: str | None, text: str, params: tuple) -> pd.DataFrame:
    return _SOURCES[key].query(Sql(text, params)) if key in _SOURCES else source().query(Sql(text, params))


def dialect() -> str:
    """The current warehouse's SQL dialect (duckdb, postgres, redshift)."""
    return source().dialect
