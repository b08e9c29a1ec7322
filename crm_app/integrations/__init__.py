"""Integrations: what lets other systems follow and extend the CRM (plugins, webhooks, API tokens)."""
