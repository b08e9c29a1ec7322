"""Plugins shipped with OPEx CRM, installed with it (entry points in pyproject.toml) and set up like
any other plugin (docs/plugins.md)."""
