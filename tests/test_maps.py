"""Agreement maps: they render, at the right size, with the line, zones, sites and points."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import _pylab_helpers
from matplotlib.figure import Figure
from matplotlib.image import imread

from linewatch.agreement import parse_agreement
from linewatch.formats.resources import load_boundaries
from linewatch.geo import Gazetteer
from linewatch.render.maps import LINE, PARTY_COLORS, PointLayer, agreement_figure, save_figure

FULL = """
id: test-map
title: Test disengagement agreement
notional: true
parties:
  - {id: north, name: Party North, side: left}
  - {id: south, name: Party South, side: right}
line:
  notional: true
  geometry:
    type: LineString
    coordinates: [[38.90, 48.62], [38.50, 48.50], [38.05, 48.30], [37.80, 48.12], [37.62, 47.90]]
zones:
  - {kind: buffer, id: security, name: Security zone, width_km: 20}
  - kind: polygon
    id: dis1
    name: Disengagement area
    category: disengagement_area
    geometry: {type: Polygon, coordinates: [[[38.45, 48.62], [38.62, 48.62], [38.62, 48.72],
                                             [38.45, 48.72], [38.45, 48.62]]]}
  - {kind: site, id: dfs, name: Filter station, category: water, point: [37.82, 48.07], radius_km: 3}
rules:
  - {id: r1, kind: no_fire, text: All fire is prohibited.}
"""

SITES_ONLY = """
id: sites-only
title: Protected infrastructure
parties:
  - {id: a, name: Party A}
  - {id: b, name: Party B}
zones:
  - {kind: site, id: s1, name: Pumping station, category: water, point: [126.9, 37.9], radius_km: 2}
  - {kind: site, id: s2, name: Power plant, category: power, point: [127.2, 38.1], radius_km: 5}
rules:
  - {id: r1, kind: no_fire, text: No fire near the sites., zones: [s1, s2]}
"""

LINE_ONLY = """
id: line-only
title: Line without zones
parties:
  - {id: a, name: Party A, side: left}
  - {id: b, name: Party B, side: right}
line:
  geometry: {type: LineString, coordinates: [[126.6, 37.75], [127.1, 38.25], [127.6, 38.3]]}
rules:
  - {id: r1, kind: no_fire, text: No fire.}
"""

DPI = 50


def _rgb(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0


def _share_near(img: np.ndarray, hex_color: str, tol: float = 0.06) -> float:
    """Fraction of pixels within ``tol`` (per channel) of a colour."""
    return float(np.mean(np.all(np.abs(img[..., :3] - _rgb(hex_color)) <= tol, axis=-1)))


def _render(tmp_path, text, name, **kw) -> tuple[np.ndarray, Figure]:
    fig = agreement_figure(parse_agreement(text), kw.pop("boundaries", load_boundaries()), **kw)
    path = save_figure(fig, tmp_path / "sub" / f"{name}.png", dpi=DPI)
    assert path.exists() and path.stat().st_size > 5000
    return imread(path), fig


def test_full_agreement_map(tmp_path):
    lon = np.array([37.9, 38.2, 38.6])
    lat = np.array([48.2, 48.4, 48.3])
    layers = [PointLayer("Explosions", lon, lat, "#c0392b", size=30)]
    gaz = Gazetteer(["Horlivka", "Donetsk"], [38.01709, 37.80224], [48.29986, 48.023],
                    [239828, 901645])
    img, fig = _render(tmp_path, FULL, "full", layers=layers, title="Test map", gazetteer=gaz)
    assert img.shape[:2] == (8 * DPI, 10 * DPI)
    assert _share_near(img, LINE) > 0.002                          # the line
    assert _share_near(img, "#c0392b", tol=0.08) * img[..., 0].size >= 10  # the points
    assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 50  # not blank
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("Demarcation line")
    assert any("Security zone" in t and "Party North" in t for t in labels)
    assert any("Disengagement area" in t for t in labels)
    assert any("water" in t for t in labels)
    assert "Explosions (3)" in labels
    texts = {t.get_text() for t in ax.texts}
    assert {"Horlivka", "Donetsk"} <= texts                        # settlements labelled
    assert fig.texts[0].get_text() == "Test map"
    assert any("NOTIONAL" in t.get_text() for t in fig.texts)
    assert any(t.get_text().endswith("°N") for t in ax.get_yticklabels())
    assert any(t.get_text().endswith("°E") for t in ax.get_xticklabels())
    assert _pylab_helpers.Gcf.get_num_fig_managers() == 0          # no pyplot state


def test_buffer_halves_use_the_party_colours(tmp_path):
    img, _ = _render(tmp_path, FULL, "colours", figsize=(6, 6))
    assert img.shape[:2] == (6 * DPI, 6 * DPI)
    # a translucent fill is lighter than the colour itself: look for its hue instead
    for color in PARTY_COLORS:
        rgb = _rgb(color)
        diff = img[..., :3] - img[..., :3].mean(axis=-1, keepdims=True)
        target = rgb - rgb.mean()
        cos = (diff @ target) / (np.linalg.norm(diff, axis=-1) * np.linalg.norm(target) + 1e-9)
        assert np.mean(cos > 0.95) > 0.01, color


def test_sites_only_agreement_without_boundaries(tmp_path):
    img, fig = _render(tmp_path, SITES_ONLY, "sites", boundaries=None)
    assert img.shape[:2] == (8 * DPI, 10 * DPI)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["Protected site: power", "Protected site: water"]
    # the extent is the sites padded: both circles are inside the view
    x0, x1 = fig.axes[0].get_xlim()
    y0, y1 = fig.axes[0].get_ylim()
    ag = parse_agreement(SITES_ONLY)
    for z in ag.zones.values():
        x, y = ag.frame.to_xy(*z.point)
        assert x0 < x < x1 and y0 < y < y1


def test_line_without_zones_and_explicit_extent(tmp_path):
    img, fig = _render(tmp_path, LINE_ONLY, "line", extent=(126.0, 128.0, 37.0, 39.0))
    assert _share_near(img, LINE) > 0.001
    ag = parse_agreement(LINE_ONLY)
    x0, x1 = fig.axes[0].get_xlim()
    y0, y1 = fig.axes[0].get_ylim()
    cx, cy = ag.frame.to_xy([126.0, 128.0, 127.0, 127.0], [38.0, 38.0, 37.0, 39.0])
    assert x0 <= cx[0] + 1 and cx[1] <= x1 + 1 and y0 <= cy[2] + 1 and cy[3] <= y1 + 1
    names = {t.get_text() for t in fig.axes[0].texts}
    assert "REPUBLIC OF KOREA" in names


def test_bad_extent_and_nothing_to_show():
    ag = parse_agreement(LINE_ONLY)
    with pytest.raises(ValueError, match="extent"):
        agreement_figure(ag, None, extent=(128.0, 126.0, 37.0, 39.0))
    empty = parse_agreement("""
id: empty
title: Nothing spatial
parties: [{id: a, name: A}, {id: b, name: B}]
rules: [{id: r1, kind: no_fire, text: No fire.}]
""")
    with pytest.raises(ValueError, match="extent"):
        agreement_figure(empty, None)
    fig = agreement_figure(empty, None, layers=[PointLayer("P", np.array([30.0]),
                                                           np.array([50.0]), "red")])
    assert isinstance(fig, Figure)


def test_the_package_exports_what_its_all_says():
    import linewatch.render as render
    assert len(set(render.__all__)) == len(render.__all__)
    for name in render.__all__:
        assert getattr(render, name) is not None, name
    with pytest.raises(AttributeError):
        _ = render.no_such_name
