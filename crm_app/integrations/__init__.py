"""Integrations: the public events catalogue (`catalogue`), webhooks (`webhooks`, sent by `deliveries`
through `addresses`' guard), plugins and API token scopes."""
