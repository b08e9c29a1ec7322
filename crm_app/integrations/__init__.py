"""Integrations: the public events catalogue (`catalogue`), webhooks (`webhooks`, their tables in
`webhook_models`, sent by `deliveries` through the `addresses` guard), plugins (`plugins`, `plugin_host`)
and the scopes of personal API tokens (`scopes`, `api_tokens`)."""
