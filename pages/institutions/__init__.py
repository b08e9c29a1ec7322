"""Screens of institutions and contacts: list, detail and its tabs, form, import."""
