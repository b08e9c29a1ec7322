"""OPEx CRM core: configuration, data, services, API and jobs (no UI imports outside web.py)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opex-crm")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
