"""docs/agreement-format.md documents every key of the agreement format: every field of every
pydantic model reachable from schema.AgreementFile and from each registered rule kind's params
model must appear in it as `name`, as must every rule kind and zone kind."""

from __future__ import annotations

import typing
from pathlib import Path

import pydantic
import pytest

from linewatch.agreement import rules as rules
from linewatch.agreement import schema as schema

DOC = Path(__file__).resolve().parents[1] / "docs" / "agreement-format.md"


def _models_in(annotation) -> list[type[pydantic.BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def walk(model: type[pydantic.BaseModel], seen: dict | None = None) -> dict[str, set[str]]:
    """Model name -> its field names, for the model and every model reachable from it."""
    seen = {} if seen is None else seen
    if model.__name__ in seen:
        return seen
    seen[model.__name__] = set(model.model_fields)
    for field in model.model_fields.values():
        for sub in _models_in(field.annotation):
            walk(sub, seen)
    return seen


def all_fields() -> list[tuple[str, str]]:
    models = walk(schema.AgreementFile)
    for kind in rules.REGISTRY.values():
        walk(kind.params, models)
    return sorted((m, f) for m, fields in models.items() for f in fields)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text()


def test_the_walk_reaches_nested_models():
    names = {m for m, _ in all_fields()}
    assert {"AgreementFile", "Party", "Line", "LineGeometry", "PolygonGeometry", "BufferZone",
            "PolygonZone", "Site", "WeaponClass", "RuleCommon", "Validity", "Policy",
            "OverflightLimit", "NoOverflightParams", "CapParams"} <= names


@pytest.mark.parametrize("model,field", all_fields())
def test_every_key_is_documented(doc, model, field):
    assert f"`{field}`" in doc, f"{model}.{field} is not documented in {DOC.name}"


@pytest.mark.parametrize("kind", sorted(rules.REGISTRY))
def test_every_rule_kind_has_a_section(doc, kind):
    assert f"### `{kind}`" in doc


@pytest.mark.parametrize("kind", ["buffer", "polygon", "site"])
def test_every_zone_kind_has_a_section(doc, kind):
    assert f"### `kind: {kind}`" in doc


def test_the_yaml_examples_in_the_doc_parse(doc):
    import yaml
    blocks = doc.split("```yaml")[1:]
    assert len(blocks) >= 10
    for block in blocks:
        text = block.split("```")[0]
        try:
            yaml.safe_load(text)
        except yaml.YAMLError:
            # fragments of lists are indented under their parent key: parse them as a list item
            yaml.safe_load("x:\n" + text)
