"""ReportLab renderings of sales documents (quote, order, invoice, credit note)."""
