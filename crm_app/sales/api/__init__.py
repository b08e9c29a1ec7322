"""REST routes of sales: /api/catalog, /api/quotes, /api/invoices and their PDFs and emails."""
