"""A submission of one object or a batch (``POST /reports``, ``POST /allegations``): its size
limits, and its answer, 422 with the field path when the one object sent was refused
(docs/api.md, "Ingest" and "Limits")."""

from typing import Any

from fastapi.responses import JSONResponse

from linewatch.web.query import problem

#: the most objects one submission holds
MAX_BATCH = 10_000
#: the largest request body, in bytes, of every route but a submission
MAX_BODY_BYTES = 1 << 20
#: the largest body of a submission (``POST /reports``, ``POST /allegations``): a batch of
#: 10,000 records of about a kilobyte each, with room to spare
MAX_SUBMISSION_BYTES = 16 << 20
#: the routes (under /api/v1) whose bodies are submissions
SUBMISSION_PATHS = ("/reports", "/allegations")


def body_limit(method: str, path: str, prefix: str = "/api/v1") -> int:
    """The largest body a request to ``method path`` may send, in bytes."""
    if method == "POST" and path.startswith(prefix) and path[len(prefix):].rstrip("/") in SUBMISSION_PATHS:
        return MAX_SUBMISSION_BYTES
    return MAX_BODY_BYTES


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


__all__ = ["MAX_BATCH", "MAX_BODY_BYTES", "MAX_SUBMISSION_BYTES", "SUBMISSION_PATHS", "answer", "body_limit",
           "objects_of"]
