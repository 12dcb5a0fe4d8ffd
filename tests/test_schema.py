"""The schema is complete enough for editors and strict enough for us."""

from __future__ import annotations

from generator.formats import SHAPES
from generator.validate import topology_schema


def _walk(schema, path="#"):
    yield path, schema
    for key in ("properties", "$defs"):
        for name, sub in schema.get(key, {}).items():
            yield from _walk(sub, f"{path}/{key}/{name}")
    for key in ("items", "additionalProperties", "propertyNames"):
        if isinstance(schema.get(key), dict):
            yield from _walk(schema[key], f"{path}/{key}")


def test_declares_json_schema_2020_12():
    assert topology_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_field_has_a_description():
    missing = [
        path for path, schema in _walk(topology_schema())
        if not path.endswith("propertyNames") and not schema.get("description")
    ]
    assert not missing, missing


def test_every_object_forbids_unknown_keys():
    loose = [
        path for path, schema in _walk(topology_schema())
        if schema.get("type") == "object" and "additionalProperties" not in schema
    ]
    assert not loose, loose


def test_every_format_is_checked_by_harborgen():
    used = {schema["format"] for _, schema in _walk(topology_schema()) if "format" in schema}
    assert used <= set(SHAPES), used - set(SHAPES)


def test_the_normative_secret_form_is_the_only_secret_form():
    secret = topology_schema()["$defs"]["secret"]
    assert secret["required"] == ["secret"] and secret["additionalProperties"] is False
