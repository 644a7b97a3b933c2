"""The web service: the REST API under ``/api/v1`` and the map dashboard (docs/api.md).

Shell. It may import the core packages, ``linewatch.services`` (the use cases it calls),
``linewatch.store``, ``linewatch.formats`` and ``linewatch.render``; only the CLI imports it
(``linewatch serve``). The room:

- :mod:`~linewatch.web.app`: :func:`create_app`, the app factory (error statuses, the NUL guard);
- :mod:`~linewatch.web.routes`: one router per API area (session, records, verification,
  allegations, agreement and map, daily reports, audit, users, the live feed) and the dashboard;
- :mod:`~linewatch.web.deps`: the dependencies the routers share: the state, the caller and its role;
- :mod:`~linewatch.web.auth`: tokens, the session cookie and CSRF header, the token cache;
- :mod:`~linewatch.web.state`: :class:`ServiceConfig` and what the service holds while it runs;
- :mod:`~linewatch.web.query`: the shared query parameters, bbox and zone filters, page cursors;
- :mod:`~linewatch.web.schemas`: the request and response bodies of the OpenAPI document;
- :mod:`~linewatch.web.visibility`: what a role may see of the reports and allegations;
- :mod:`~linewatch.web.batches`: submissions of one object or a batch;
- :mod:`~linewatch.web.features`: GeoJSON of records, the agreement, the base map and coverage.
"""

from linewatch.web.app import create_app
from linewatch.web.state import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
