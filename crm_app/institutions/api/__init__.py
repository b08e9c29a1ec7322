"""REST routes of institutions: /api/institutions, /api/contacts and the CSV import."""
