"""Reusable UI pieces: the shell, the service-call helper, forms. Pages compose these."""
