"""Integrations: the public events catalogue (`catalogue`), webhooks (`webhooks`, their tables in
`webhook_models`, sent by `deliveries` through the `addresses` guard), plugins and API token scopes."""
