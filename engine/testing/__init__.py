"""Authoring tools that run specs on a few rows: unit tests (``medallion test``) and preview."""
