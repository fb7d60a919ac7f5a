"""The environment variables that point the app at a project (set by ``medallion dashboard``).

Why a module of its own: the command sets them without importing Streamlit's caching machinery.
"""

ENV_DIR = "MEDALLION_DASHBOARD_PROJECT_DIR"
ENV_PROFILE = "MEDALLION_DASHBOARD_PROFILE"
ENV_VARS = "MEDALLION_DASHBOARD_VARS"
ENV_TTL = "MEDALLION_DASHBOARD_TTL"
