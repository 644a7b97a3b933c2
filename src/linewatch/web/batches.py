"""A submission of one object or a batch (``POST /reports``, ``POST /allegations``): its size
limit, and its answer, 422 with the field path when the one object sent was refused
(docs/api.md, "Ingest")."""

from typing import Any

from fastapi.responses import JSONResponse

from linewatch.web.query import problem

MAX_BATCH = 10_000


def objects_of(body: dict[str, Any] | list[Any], what: str) -> list[Any]:
    """The objects of a request body: the one object, or the list (413 over ``MAX_BATCH``)."""
    objects = body if isinstance(body, list) else [body]
    if len(objects) > MAX_BATCH:
        raise problem(413, ["body"], f"{len(objects)} {what}: at most {MAX_BATCH} per request")
    return objects


def answer(body: dict[str, Any] | list[Any], res: Any) -> Any:
    """A submission's answer: 422 with the field path when the one object sent was refused."""
    if isinstance(body, dict) and res.rejected:
        _, fld, reason = res.rejected[0]
        return JSONResponse({"detail": [{"loc": ["body"] + ([fld] if fld else []), "msg": reason,
                                         "type": "value_error"}], **res.as_dict()}, status_code=422)
    return res.as_dict()


__all__ = ["MAX_BATCH", "answer", "objects_of"]
