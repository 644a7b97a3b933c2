"""The query parameters the API shares (times, bbox, pages, format) and how they are read:
the bounding box, the agreement zone, and the opaque cursor of a keyset page (docs/api.md,
"Queries")."""

import base64
import json
import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Query, Request
from pydantic import AwareDatetime, BeforeValidator

from linewatch.web.state import ServiceState

MAX_LIMIT = 5000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Start = Annotated[AwareDatetime | None, Query(description="from this time (ISO 8601 with a zone), inclusive")]
End = Annotated[AwareDatetime | None, Query(description="to this time, exclusive")]
BBox = Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat", examples=["36,47,39,49"])]
Fmt = Annotated[Literal["geojson", "json"], Query(alias="format")]
Cursor = Annotated[str | None, Query(description="from a previous page's 'next'")]
Multi = Annotated[list[str] | None, Query()]


def _iso_day(value: Any) -> Any:
    """A day is written ``YYYY-MM-DD``: never a number read as seconds since 1970."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError(f"{str(value)[:40]!r} is not a day written YYYY-MM-DD")
    return value


#: a day in a path, strictly ``YYYY-MM-DD``
Day = Annotated[date, BeforeValidator(_iso_day)]

#: a box as (min_lon, min_lat, max_lon, max_lat)
Box = tuple[float, float, float, float]
#: does each (lon, lat) lie inside? (numpy arrays or scalars in, booleans out)
Inside = Callable[[Any, Any], Any]


def problem(status: int, loc: list[Any], msg: str) -> HTTPException:
    """An error in FastAPI's validation form: ``detail`` is a list with the ``loc`` path."""
    return HTTPException(status, detail=[{"loc": loc, "msg": msg, "type": "value_error"}])


def parse_bbox(text: str | None) -> Box | None:
    """``min_lon,min_lat,max_lon,max_lat`` as numbers (422 when it is not one)."""
    if text is None:
        return None
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        vals = ()
    if len(vals) != 4 or not all(v == v for v in vals):
        raise problem(422, ["query", "bbox"], f"bbox {text!r}: give min_lon,min_lat,max_lon,max_lat")
    lo_x, lo_y, hi_x, hi_y = vals
    if not (-180 <= lo_x <= hi_x <= 180 and -90 <= lo_y <= hi_y <= 90):
        raise problem(422, ["query", "bbox"], f"bbox {text!r}: out of range or min > max")
    return lo_x, lo_y, hi_x, hi_y


def in_box(box: Box | None, lon: float, lat: float) -> bool:
    return box is None or (box[0] <= lon <= box[2] and box[1] <= lat <= box[3])


def zone_filter(state: ServiceState, zone: str | None) -> Inside | None:
    """The test "inside the agreement's zone ``zone``" (None without a zone; 422 for a zone the
    agreement in force does not have, 404 without an agreement)."""
    if zone is None:
        return None
    import shapely
    agreement = state.require_agreement().agreement
    z = agreement.zones.get(zone)
    if z is None:
        raise problem(422, ["query", "zone"], f"zone {zone!r} is not in agreement "
                      f"{agreement.id} (zones: {', '.join(agreement.zones)})")
    geom = shapely.union_all(list(z.polygons_lonlat().values()))
    shapely.prepare(geom)
    return lambda lon, lat: shapely.contains_xy(geom, lon, lat)


# -- pages -------------------------------------------------------------------------------------

def encode_cursor(values: list[Any]) -> str:
    """The cursor of the page after the item keyed ``values`` (time, then ids)."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(text: str | None, n: int) -> tuple[Any, ...] | None:
    """The key ``(time_s, id, ...)`` of ``n`` values a cursor holds (422 for one this service
    did not give)."""
    if text is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if isinstance(values, list) and len(values) == n and isinstance(values[0], (int, float)) \
                and all(isinstance(v, str) for v in values[1:]):
            return (float(values[0]), *values[1:])
    except (ValueError, TypeError):
        pass
    raise problem(422, ["query", "cursor"], "cursor: not one this service gave (use the 'next' URL)")


def next_url(request: Request, cursor: str) -> str:
    """The request's URL with ``cursor`` in place of its own."""
    return f"{request.url.path}?{request.url.include_query_params(cursor=cursor).query}"


def page_of(items: list[dict[str, Any]], nxt: str | None, features: list[dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    """A page as JSON (``items``) or, given ``features``, as a GeoJSON FeatureCollection."""
    if features is None:
        return {"items": items, "count": len(items), "next": nxt}
    return {"type": "FeatureCollection", "features": features, "count": len(features), "next": nxt}


__all__ = ["MAX_LIMIT", "BBox", "Box", "Cursor", "Day", "End", "Fmt", "Inside", "Limit", "Multi", "Start",
           "decode_cursor", "encode_cursor", "in_box", "next_url", "page_of", "parse_bbox",
           "problem", "zone_filter"]
