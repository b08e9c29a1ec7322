"""Integrations: what lets other systems follow and extend the CRM: the public events catalogue, webhooks,
plugins and the scopes of personal API tokens."""
