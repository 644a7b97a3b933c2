"""Rendering the daily report: JSON, HTML, PDF and PNGs, written atomically."""

from __future__ import annotations

import json
import re
import zlib

import pytest

from linewatch.agreement import parse_agreement
from linewatch.formats.resources import load_boundaries
from linewatch.render import report as render_report
from linewatch.render.plots import trend_figure
from linewatch.render.report import map_layers, render_html, write_report
from test_reporting import agreement_yaml, build, day_records

NAMES = ("report-2025-06-02.json", "report-2025-06-02.html", "report-2025-06-02.pdf",
         "map-2025-06-02.png", "trend-2025-06-02.png")


@pytest.fixture(scope="module")
def report() -> dict:
    return build()


@pytest.fixture(scope="module")
def agreement():
    return parse_agreement(agreement_yaml(), name="report-test.yaml")


@pytest.fixture(scope="module")
def written(tmp_path_factory, report, agreement):
    out = tmp_path_factory.mktemp("report")
    paths = write_report(report, agreement, out, boundaries=load_boundaries(), reports=day_records())
    return out, paths


def test_writes_every_output(written):
    out, paths = written
    assert sorted(p.name for p in paths.values()) == sorted(NAMES)
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)  # no temporary files left
    for key in ("map", "trend"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert paths[key].stat().st_size > 10_000


def test_json_is_the_report(written, report):
    _, paths = written
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == report


def test_pdf_has_pages(written):
    _, paths = written
    data = paths["pdf"].read_bytes()
    assert data.startswith(b"%PDF")
    assert _page_count(data) >= 1


def _page_count(pdf: bytes) -> int:
    """Page objects in a PDF, looking inside compressed object streams too."""
    chunks = [pdf]
    for m in re.finditer(rb"stream\r?\n", pdf):
        try:
            chunks.append(zlib.decompressobj().decompress(pdf[m.end():]))
        except zlib.error:
            continue
    return sum(len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", c)) for c in chunks)


def test_html_has_the_sections_and_figures(written):
    _, paths = written
    html = paths["html"].read_text(encoding="utf-8")
    for heading in ("Daily Report", "Summary", "1. Ceasefire violations", "Explosions by type",
                    "Live-fire exercises", "2. Disengagement areas", "3. Withdrawal of weapons",
                    "Weapons in violation of withdrawal lines",
                    "Weapons beyond withdrawal lines but outside designated storage sites",
                    "4. Strikes on protected sites", "5. Windows of silence",
                    "6. Mines and unexploded ordnance", "7. Civilian casualties",
                    "8. Freedom of movement", "9. Findings against the agreement",
                    "10. Incidents located by the sensor network", "11. Coverage and trend",
                    "Annex A. Findings"):
        assert heading in html, heading
    assert 'src="map-2025-06-02.png"' in html and 'src="trend-2025-06-02.png"' in html
    assert "NOTIONAL" in html
    assert "No incidents were located by the sensor network" in html  # none in this scenario
    assert "In the South sector the mission recorded 8 ceasefire violations" in html
    # the total row: 25 this period, 7 the previous one, with its records in the tooltip
    assert re.search(r'title="records: e1 e2 e3 e4 e5 e6 e7 e8 e9">25 <span class="prev">\(7\)</span>', html)
    # freedom-of-movement restrictions are marked with an asterisk
    assert len(re.findall(r'<td class="star">\*</td>', html)) == 2
    assert "Window of silence for repairs in the area." in html and "violated" in html
    assert "13 km north-west of Southam" in html


def test_html_escapes_record_text(report):
    bad = json.loads(json.dumps(report))
    bad["freedom_of_movement"]["items"][0]["description"] = "<script>alert(1)</script>"
    html = render_html(bad, map_file=None, trend_file=None)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_corrections_render_by_report_date_and_are_omitted_when_empty(report):
    entry = {"report_date": "2025-06-01", "report": "the daily report of 1 June 2025",
             "released_at": "2025-06-02T08:00:00Z",
             "figures": [{"figure": "ceasefire_violations", "name": "ceasefire violations", "old": 7, "new": 9,
                          "records": [{"old": "p1", "new": "p1-v2"}, {"old": "p2", "new": None}]}],
             "records": [{"old": "p1", "new": "p1-v2", "change": "corrected", "reason": "<b>4</b> impacts"},
                         {"old": "p2", "new": None, "change": "rejected", "reason": None}],
             "text": "…"}
    html = render_html({**report, "corrections": [entry]}, map_file=None, trend_file=None)
    section = html[html.index("<h2>Corrections</h2>"):html.index("</section>", html.index("<h2>Corrections</h2>"))]
    assert "The daily report of 1 June 2025" in section and "Ceasefire violations" in section
    assert re.search(r'<td class="num">7</td><td class="num">9</td>', section)
    assert "p1 → p1-v2 (&lt;b&gt;4&lt;/b&gt; impacts)" in section and "p2 → rejected" in section
    for empty in ({**report, "corrections": []}, report):
        assert "Corrections" not in render_html(empty, map_file=None, trend_file=None)


def test_map_layers_one_per_kind(report):
    layers = map_layers(report)  # from the report's own records table
    labels = [layer.label for layer in layers]
    assert labels == ["Explosions", "Projectiles in flight", "Muzzle flashes", "Illumination flares",
                      "Bursts and shots", "Weapons in violation of withdrawal lines",
                      "Strikes on infrastructure"]
    assert len(layers[0].lon) == 5 and list(layers[5].lon) == [35.9]


def test_trend_figure_bars(report):
    fig = trend_figure(report)
    ax = fig.axes[0]
    heights = {}
    for patch in ax.patches:
        x = round(patch.get_x() + patch.get_width() / 2)
        heights[x] = heights.get(x, 0) + patch.get_height() if patch.get_fill() else heights.get(x, 0)
    assert heights == {0: 7, 1: 7, 2: 25}


def test_failure_leaves_no_half_written_report(tmp_path, report, agreement, monkeypatch):
    old = tmp_path / "report-2025-06-02.json"
    old.write_text("previous edition", encoding="utf-8")

    def broken(*a, **k):
        raise RuntimeError("PDF engine failed")

    monkeypatch.setattr(render_report, "render_html", broken)
    with pytest.raises(RuntimeError):
        write_report(report, agreement, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["report-2025-06-02.json"]
    assert old.read_text(encoding="utf-8") == "previous edition"
