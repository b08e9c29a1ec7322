"""Integrations: what lets other systems work with the CRM (the scopes of personal API tokens, ...)."""
