"""The one identifier quoter: a name as SQL text, whatever characters it holds.

Every dialect the engine writes quotes identifiers the same way — wrap in the dialect's quote
character and double that character inside — only the character differs: ``"`` for standard
SQL (DuckDB, PostgreSQL, Redshift, JDBC sources), a backtick for Spark SQL.
"""

from __future__ import annotations

from typing import Literal

QuoteChar = Literal['"', "`"]


def quote_identifier(name: str, quote: QuoteChar = '"') -> str:
    '''``name`` quoted for SQL text: ``a"b`` becomes ``"a""b"`` (standard) or ``a`b`` becomes a backtick form (Spark).'''
    return quote + name.replace(quote, quote * 2) + quote
