"""Sales: catalog, quotes, invoices and credit notes, payments, numbering, PDFs and their reminders."""
