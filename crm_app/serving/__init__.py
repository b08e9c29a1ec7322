"""The web server's own pieces (used by web.py and cli.py): the REST fast path, security headers,
the NiceGUI patch and garbage-collection tuning."""
