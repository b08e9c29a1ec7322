"""Screens of sales: catalog, quotes, invoices."""
