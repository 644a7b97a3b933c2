"""The map dashboard: ``/`` serves its page; its scripts and styles are ``/static``
(docs/dashboard.md)."""

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter()


def static_files() -> Path:
    """The folder of the dashboard's files (``linewatch/web/static``)."""
    return Path(str(resources.files("linewatch.web").joinpath("static")))


def static_app() -> StaticFiles:
    return StaticFiles(directory=static_files())


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(static_files() / "index.html", headers={"Cache-Control": "no-cache"})
