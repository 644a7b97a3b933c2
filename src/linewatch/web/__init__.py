"""The web service: the REST API and the map dashboard (shell; docs/api.md)."""

from linewatch.web.app import create_app
from linewatch.web.state import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
