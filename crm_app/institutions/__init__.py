"""Institutions and their contacts: records, lists, duplicates, import, export, saved views, search."""
