"""Demo data for a first start and for trying the product (never in production)."""
