"""The API's routers, one per area (each module's docstring says what it serves), and the
dashboard's. ``API_ROUTERS`` are mounted under ``/api/v1`` in this order (the order of the
OpenAPI document and of the tags)."""

from fastapi import APIRouter

from linewatch.web.routes import (
    agreement_map,
    allegations,
    audit,
    daily_reports,
    dashboard,
    events,
    records,
    review,
    session,
    users,
    verification,
)

API_ROUTERS: tuple[APIRouter, ...] = (session.router, records.router, verification.router,
                                      allegations.router, agreement_map.router, daily_reports.router,
                                      review.router, audit.router, users.router, events.router)

__all__ = ["API_ROUTERS", "dashboard"]
