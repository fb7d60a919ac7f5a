"""Streamlit dashboards generated from the gold specs' ``dashboard:`` blocks.

A spec with a ``dashboard:`` block is a page; nothing here names a table or a business term, so a
new mart YAML is a new page with no Python. See docs/dashboards.md.
"""
