"""Business rules: plain functions `do_thing(session, actor, ...)`; no UI, no HTTP, no commit."""
