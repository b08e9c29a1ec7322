"""Tables of sales: the catalog and quotes (`quotes`), invoices and payments (`invoices`)."""
