"""The map's layers: the agreement in force (its summary, and its line, zones and sites as
GeoJSON), the base map of country boundaries, and the sensor network's coverage at a time."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import AwareDatetime

from linewatch.web.deps import Staff, State, Who
from linewatch.web.features import agreement_features, coverage_grid
from linewatch.web.schemas import FeatureCollection

router = APIRouter(tags=["agreement"])

CoverageKind = Literal["explosion", "launch", "small_arms", "movement", "weapon_sighting", "overflight"]


@router.get("/agreement", summary="The agreement in force: parties, zones, rules")
def agreement(p: Who, state: State) -> dict[str, Any]:
    loaded = state.require_agreement()
    return {**loaded.agreement.summary(), "sha256": loaded.sha256}


@router.get("/agreement/geojson", response_model=FeatureCollection,
            summary="The line, reference lines, zones and protected sites as GeoJSON")
def agreement_geojson(p: Who, state: State) -> dict[str, Any]:
    return agreement_features(state.require_agreement().agreement)


@router.get("/basemap", response_model=FeatureCollection,
            summary="Country boundaries (Natural Earth, committed extract) for the map")
def basemap_(p: Who, state: State) -> dict[str, Any]:
    return state.basemap()


def _coverage_png(network: Any, at: datetime, kind: str) -> Response:
    import io

    import matplotlib.pyplot as plt

    from linewatch.render.coverage_map import coverage_figure
    fig = coverage_figure(network, at.timestamp(), kind)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return Response(buf.getvalue(), media_type="image/png")


@router.get("/coverage", summary="What the sensor network could detect at a time: a grid of detection probability",
            responses={200: {"content": {"application/json": {}, "image/png": {}}}})
def coverage(p: Staff, state: State, at: Annotated[AwareDatetime, Query()],
             kind: Annotated[CoverageKind, Query()] = "explosion",
             fmt: Annotated[Literal["geojson", "png"], Query(alias="format")] = "geojson") -> Any:
    net = state.network()
    if net is None:
        raise HTTPException(404, "no sensor network for this store: run linewatch serve with "
                            "--network FILE, or report/allegations verify with --network")
    if fmt == "png":
        return _coverage_png(net, at, kind)
    return coverage_grid(net, state.require_agreement().agreement, at, kind)
