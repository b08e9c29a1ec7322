"""One module per screen; importing this package registers every route."""

from . import dashboard, login, profile

__all__ = ["dashboard", "login", "profile"]
