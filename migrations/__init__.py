"""Alembic environment and revisions (a package so that it ships with the project)."""
