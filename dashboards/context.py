"""The app's connection to a project: which folder, profile and variables, and cached queries.

Why environment variables: ``medallion dashboard`` starts ``streamlit run`` in a new process and
AppTest runs the script in-process; both can set the environment, neither passes arguments the
same way. Query results are cached with a TTL (``MEDALLION_DASHBOARD_TTL`` seconds, default 300),
keyed by the source and the SQL text with its parameters.
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


def workspace() -> Any:
    """The opened project (cached per process and settings); raises the engine's errors."""
    return _workspace(source_key())


@st.cache_resource(show_spinner=False)
def _workspace(key: str) -> Any:
    from engine.run.workspace import Workspace

    project_dir, profile, var_args = json.loads(key)
    return Workspace.open(Path(project_dir) if project_dir else None, profile, var_args)


def source() -> Source:
    """The warehouse of the current settings."""
    key = source_key()
    if key not in _SOURCES:
        _SOURCES[key] = open_source(workspace())
    return _SOURCES[key]


def query(sql: Sql) -> pd.DataFrame:
    """Rows of a parameterised query, cached for TTL seconds (failures are not cached)."""
    return _cached(source_key(), sql.text, sql.params).copy()


@st.cache_data(ttl=TTL, show_spinner=False, max_entries=2000)
def _cached(key: str, text: str, params: tuple) -> pd.DataFrame:
    return _SOURCES[key].query(Sql(text, params)) if key in _SOURCES else source().query(Sql(text, params))


def dialect() -> str:
    """The current warehouse's SQL dialect (duckdb, postgres, redshift)."""
    return source().dialect
