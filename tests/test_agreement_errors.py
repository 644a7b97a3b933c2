"""Every kind of bad agreement gives an AgreementError naming the file, the line and the
field path of each problem; all problems in a file are reported together."""

from __future__ import annotations

import re

import pytest

from linewatch.agreement import parse_agreement
from linewatch.errors import AgreementError

NAME = "bad.yaml"

BASE = """\
id: t
title: T
parties:
  - {id: a, name: A, side: left}
  - {id: b, name: B, side: right}
line:
  geometry:
    type: LineString
    coordinates: [[30, 48], [30.5, 48]]
sectors:
  - {id: s1, name: S1, from_km: 0, to_km: 100}
zones:
  - kind: buffer
    id: z1
    name: Z1
    width_km: 10
  - kind: polygon
    id: z2
    name: Z2
    geometry:
      type: Polygon
      coordinates: [[[30.1, 47.9], [30.2, 47.9], [30.2, 48.1], [30.1, 48.1], [30.1, 47.9]]]
weapon_classes:
  - {id: w1, name: W1, examples: [X-1], banned_from: [z1]}
rules:
  - id: r1
    kind: weapon_exclusion
    text: T
    weapon_classes: [w1]
  - id: r2
    kind: no_overflight
    text: T
    limits:
      - {aircraft_type: uav, distance_km: 10, sectors: [s1]}
valid:
  start: 2025-01-01T00:00:00+00:00
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def problems(text: str) -> list[str]:
    with pytest.raises(AgreementError) as exc:
        parse_agreement(text, name=NAME)
    msg = str(exc.value)
    assert msg.startswith(NAME)
    return [line.strip() for line in msg.splitlines()[1:]] or [msg]


def assert_problem(text: str, line: int, path: str, fragment: str) -> None:
    found = problems(text)
    want = f"{NAME}:{line}: {path}: "
    assert any(p.startswith(want) and fragment in p for p in found), (want, fragment, found)


def test_the_base_agreement_is_valid():
    ag = parse_agreement(BASE, name=NAME)
    assert [r.id for r in ag.rules] == ["r1", "r2"]


@pytest.mark.parametrize("text,line,path,fragment", [
    # unknown keys at several depths
    (BASE + "colour: red\n", 37, "colour", "unknown key"),
    (edit("    width_km: 10\n", "    width_km: 10\n    colour: red\n"), 17, "zones[0].colour", "unknown key"),
    (edit("    type: LineString\n", "    type: LineString\n    colour: red\n"), 9, "line.geometry.colour",
     "unknown key"),
    (edit("  - {id: a, name: A, side: left}", "  - {id: a, name: A, side: left, colour: red}"), 4,
     "parties[0].colour", "unknown key"),
    (edit("  start: 2025", "  colour: red\n  start: 2025"), 36, "valid.colour", "unknown key"),
    # rule params: unknown key, bad type, at the rule and inside its params
    (edit("    weapon_classes: [w1]\n", "    weapon_classes: [w1]\n    colour: red\n"), 30,
     "rules[0].colour", "unknown key"),
    (edit("sectors: [s1]}", "sectors: [s1], colour: red}"), 34, "rules[1].limits[0].colour", "unknown key"),
    (edit("distance_km: 10,", "distance_km: far,"), 34, "rules[1].limits[0].distance_km", "number"),
    (edit("    weapon_classes: [w1]\n", "    weapon_classes: w1\n"), 29, "rules[0].weapon_classes", "list"),
    # unknown kinds
    (edit("  - kind: buffer", "  - kind: circle"), 13, "zones[0]", "unknown zone kind 'circle'"),
    (edit("    kind: weapon_exclusion", "    kind: no_foo"), 27, "rules[0].kind", "unknown rule kind 'no_foo'"),
    # references to unknown things
    (edit("banned_from: [z1]", "banned_from: [z9]"), 24, "weapon_classes[0].banned_from[0]", "unknown zone 'z9'"),
    (edit("    width_km: 10\n", "    per_side_km: {a: 5, c: 5}\n"), 16, "zones[0].per_side_km.c", "unknown party 'c'"),
    (edit("    weapon_classes: [w1]\n", "    weapon_classes: [w9]\n"), 26, "rules[0]", "unknown weapon class 'w9'"),
    (edit("sectors: [s1]}", "sectors: [s9]}"), 34, "rules[1].limits[0].sectors", "unknown sector 's9'"),
    (edit("    kind: weapon_exclusion\n    text: T\n    weapon_classes: [w1]\n",
          "    kind: no_fire\n    text: T\n    zones: [z9]\n"), 26, "rules[0]", "unknown zone 'z9'"),
    (edit("    width_km: 10\n", "    width_km: 10\n  - {kind: polygon, id: z3, name: Z3, party: c, "
          "geometry: {type: Polygon, coordinates: [[[30, 48], [30.1, 48], [30.1, 48.1], [30, 48]]]}}\n"),
     17, "zones[1].party", "unknown party 'c'"),
    # duplicate ids, across groups too
    (edit("    id: z2\n", "    id: z1\n"), 18, "zones[1].id", "'z1' is already used at zones[0]"),
    (edit("  - id: r2\n", "  - id: w1\n"), 24, "weapon_classes[0].id", "'w1' is already used at rules[1]"),
    # times
    (edit("2025-01-01T00:00:00+00:00", "2025-01-01T00:00:00"), 36, "valid.start", "timezone"),
    (BASE + "  end: 2024-12-31T00:00:00+00:00\n", 35, "valid", "is not after start"),
    # parties and sides
    (edit("side: right", "side: left"), 3, "parties", "both parties hold the 'left' side"),
    (edit(", side: right}", "}"), 5, "parties[1].side", "must say which side"),
    (edit("  - {id: b, name: B, side: right}", "  - {id: a, name: B, side: right}"), 3,
     "parties", "same id"),
    # geometry
    (edit("[[[30.1, 47.9], [30.2, 47.9], [30.2, 48.1], [30.1, 48.1], [30.1, 47.9]]]",
          "[[[30.1, 47.9], [30.2, 48.1], [30.2, 47.9], [30.1, 48.1], [30.1, 47.9]]]"),
     20, "zones[1].geometry", "not valid (Self-intersection"),
    (edit("coordinates: [[30, 48], [30.5, 48]]", "coordinates: [[30, 48]]"), 9,
     "line.geometry.coordinates", "at least two"),
    (edit("coordinates: [[30, 48], [30.5, 48]]", "coordinates: [[30, 48], [30, 48], [30.5, 48]]"), 9,
     "line.geometry.coordinates[1]", "repeats the vertex"),
    (edit("    width_km: 10\n", "    width_km: 10\n    per_side_km: {a: 5}\n"), 13, "zones[0]",
     "exactly one of width_km"),
    (edit("from_km: 0, to_km: 100", "from_km: 50, to_km: 10"), 11, "sectors[0]", "not greater"),
    # missing required keys
    (edit("title: T\n", ""), 1, "title", "Field required"),
    (edit("    text: T\n    weapon_classes", "    weapon_classes"), 26, "rules[0].text", "Field required"),
])
def test_each_problem_names_file_line_and_path(text, line, path, fragment):
    assert_problem(text, line, path, fragment)


def test_yaml_syntax_error_names_the_line():
    msg = problems(edit("title: T\n", "title: [T\n"))[0]
    assert re.match(rf"{re.escape(NAME)}:\d+: not valid YAML", msg), msg


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "\n# nothing\n"])
def test_a_document_that_is_not_a_mapping(text):
    msg = problems(text)[0]
    assert re.match(rf"{re.escape(NAME)}:\d+: \(top level\): an agreement is a YAML mapping", msg), msg


def test_all_problems_are_reported_together():
    text = edit("    kind: weapon_exclusion", "    kind: no_foo")       # rule kind (line 27)
    text = edit("distance_km: 10,", "distance_km: far,", text)         # rule params (line 34)
    text = edit("    width_km: 10\n", "    width_km: 10\n    colour: red\n", text)  # schema (17)
    text = edit("2025-01-01T00:00:00+00:00", "2025-01-01T00:00:00", text)  # naive time (37)
    found = problems(text)
    assert any(p.startswith(f"{NAME}:17: zones[0].colour: unknown key") for p in found), found
    assert any(p.startswith(f"{NAME}:28: rules[0].kind: unknown rule kind") for p in found), found
    assert any(p.startswith(f"{NAME}:35: rules[1].limits[0].distance_km:") for p in found), found
    assert any(p.startswith(f"{NAME}:37: valid.start:") for p in found), found
    assert len(found) == 4

    # reference and geometry problems of a file that validates as data come together too
    text = edit("banned_from: [z1]", "banned_from: [z9]")
    text = edit("    id: z2\n", "    id: z1\n", text)
    text = edit("coordinates: [[30, 48], [30.5, 48]]", "coordinates: [[30, 48]]", text)
    found = problems(text)
    assert len(found) == 3, found


def test_examples_in_the_error_message_are_counted():
    with pytest.raises(AgreementError, match=r"2 problem\(s\)"):
        parse_agreement(edit("title: T\n", "") + "colour: red\n", name=NAME)
