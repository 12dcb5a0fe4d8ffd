"""The schema is complete enough for editors and strict enough for us."""

from __future__ import annotations

from generator.formats import SHAPES
from generator.validate import schema_for, supported_versions, topology_schema


def _walk(schema, path="#"):
    if isinstance(schema, bool):
        return  # `false`: a key one target does not have
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
        if not path.endswith("propertyNames") and not schema.get("description") and set(schema) != {"$ref"}
    ]
    assert not missing, missing


def test_every_object_of_each_target_forbids_unknown_keys():
    # The file's own harbor, database and redis are open: each target's branch closes them.
    for version in supported_versions():
        schema = schema_for(version)
        loose = [
            path for path, sub in _walk({**schema, "$defs": {}})
            if sub.get("type") == "object" and "additionalProperties" not in sub
        ]
        for section in schema["$defs"][f"target-{version}"]["properties"].values():
            if section is not False:
                target = schema["$defs"][section["$ref"].rsplit("/", 1)[1]]
                loose += [path for path, sub in _walk(target) if sub.get("type") == "object" and "additionalProperties" not in sub]
        assert not loose, (version, loose)


def test_each_target_selects_its_own_sections():
    assert schema_for("1.1.2")["properties"]["database"] == {"$ref": "#/$defs/database-mysql"}
    assert "redis" not in schema_for("1.1.2")["properties"]
    assert schema_for("2.15")["properties"]["redis"] == {"$ref": "#/$defs/redis"}
    assert "redis" in schema_for("2.15")["required"]


def test_every_format_is_checked_by_harborgen():
    used = {schema["format"] for _, schema in _walk(topology_schema()) if "format" in schema}
    assert used <= set(SHAPES), used - set(SHAPES)


def test_the_normative_secret_form_is_the_only_secret_form():
    secret = topology_schema()["$defs"]["secret"]
    assert secret["required"] == ["secret"] and secret["additionalProperties"] is False


def test_both_json_schemas_list_exactly_the_roles_of_the_model():
    """generator/model.py ROLE_ORDER is the one list of roles; a schema that lacks one rejects real documents."""
    import json

    from generator.model import ROLE_ORDER
    from generator.resources import SCHEMA_FILE

    topology = json.loads(SCHEMA_FILE.read_text())
    diff_report = json.loads((SCHEMA_FILE.parent / "diff-report.schema.json").read_text())
    node = topology["properties"]["nodes"]["additionalProperties"]
    assert node["properties"]["roles"]["items"]["enum"] == list(ROLE_ORDER)
    assert diff_report["properties"]["plan"]["items"]["properties"]["roles"]["items"]["enum"] == list(ROLE_ORDER)
