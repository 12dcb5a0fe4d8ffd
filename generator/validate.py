"""Stage 2: check a loaded topology, structure first, then the cross-references.

Structure is JSON Schema (``schema/topology.schema.json``); every jsonschema
error is turned into one sentence that names the field and what was expected.
Cross-reference rules only run on a structurally valid document, so that
they can trust the shapes, and are in ``crosscheck``.
"""

from __future__ import annotations

import copy
import difflib
import json
from functools import cache, lru_cache
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from . import crosscheck
from .errors import Diagnostic, InputError
from .formats import SHAPES, format_checker
from .loader import Located, dotted
from .resources import SCHEMA_FILE

_JSON_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "null": "empty",
}


def _is_strict_integer(checker, instance: Any) -> bool:
    # JSON Schema counts 80.0 as an integer; nginx, MySQL and Ceph do not read it as one.
    return isinstance(instance, int) and not isinstance(instance, bool)


TopologyValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


@lru_cache(maxsize=1)
def topology_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def supported_versions() -> tuple[str, ...]:
    """The targets harborgen compiles: the schema's harbor-version enum, the one list of them."""
    return tuple(topology_schema()["$defs"]["harbor-version"]["enum"])


@cache  # one entry per supported version, and one for none
def schema_for(version: str | None) -> dict[str, Any]:
    """The schema of one target, without the file's if/then: one branch, so errors speak of that target only.

    With no supported version, harbor, database and redis are checked no further
    than the version itself: the version's own error says what to fix first.
    """
    schema = copy.deepcopy(topology_schema())
    del schema["allOf"]
    target = schema["$defs"].get(f"target-{version}")
    if target is None:
        return schema
    for key, sub in target["properties"].items():
        if sub is False:
            del schema["properties"][key]
        else:
            schema["properties"][key] = sub
    schema["required"] = [*schema["required"], *target.get("required", ())]
    return schema


def declared_version(data: Any) -> str | None:
    """harbor.version when it names a supported target, else None."""
    harbor = data.get("harbor") if isinstance(data, dict) else None
    version = harbor.get("version") if isinstance(harbor, dict) else None
    return version if version in supported_versions() else None


def validate(located: Located) -> dict[str, Any]:
    """Every problem at once, or the document with the schema's defaults filled in."""
    schema = schema_for(declared_version(located.data))
    validator = TopologyValidator(schema, format_checker=format_checker())
    errors = list(validator.iter_errors(located.data))
    problems = [_describe(error, located) for error in errors if not _explained_by_misspelling(error, errors)]
    if problems:
        raise InputError(problems)
    document = with_defaults(schema, located.data)
    problems = crosscheck.run_all(document, located)
    if problems:
        raise InputError(problems)
    return document


def _fill_defaults_while_validating(validator_class: Any) -> Any:
    """jsonschema's own recipe: a validator whose "properties" check sets each absent default first.

    The validator follows $ref, if/then/else and additionalProperties itself (with
    `referencing`), so a default is filled exactly where the schema applies. A
    default stands beside its property, never inside a $defs entry it refers to.
    """
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_then_check(validator, properties, instance, schema):
        if validator.is_type(instance, "object"):
            for key, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": fill_then_check})


_DefaultFillingValidator = _fill_defaults_while_validating(TopologyValidator)


def with_defaults(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """A copy of valid data in which every absent property that has a schema default is set."""
    result = copy.deepcopy(data)
    for _ in _DefaultFillingValidator(schema, format_checker=format_checker()).iter_errors(result):
        pass  # the document was valid before; a filled default is valid by the schema's own test
    return result


def _describe(error: ValidationError, located: Located) -> Diagnostic:
    path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties":
        return _unknown_keys(error, located, path)
    if kind == "required":
        missing = _missing_key(error)
        line, column = located.position(path, of_key=True)
        where = dotted(path) or "the top level"
        return Diagnostic(located.file, line, column, dotted((*path, missing)), f"missing required key (expected {missing!r} in {where})")
    if kind == "propertyNames":
        name = error.instance
        shape = SHAPES[error.validator_value["format"]] if isinstance(error.validator_value, dict) else None
        expected = shape.expected if shape else "a valid name"
        return located.diagnostic((*path, name), f"{name!r} is not a valid name (expected {expected})", of_key=True)
    return located.diagnostic(path, _sentence(error))


def _missing_key(error: ValidationError) -> str:
    # jsonschema yields one "'KEY' is a required property" error per missing key.
    return error.message.split("'")[1]


def _explained_by_misspelling(error: ValidationError, errors: list[ValidationError]) -> bool:
    """A missing key that an unknown sibling key is a misspelling of: the hint says it all."""
    if error.validator != "required":
        return False
    missing = _missing_key(error)
    for other in errors:
        if other.validator == "additionalProperties" and other.absolute_path == error.absolute_path:
            unknown = set(other.instance) - set(other.schema.get("properties", {}))
            if any(difflib.get_close_matches(key, [missing], n=1, cutoff=0.6) for key in unknown):
                return True
    return False


def _unknown_keys(error: ValidationError, located: Located, path: tuple) -> Diagnostic:
    known = sorted(error.schema.get("properties", {}))
    unknown = sorted(set(error.instance) - set(known))
    first = unknown[0]
    hint = difflib.get_close_matches(first, known, n=1, cutoff=0.6)
    expected = f"did you mean {hint[0]!r}?" if hint else f"expected one of: {', '.join(known)}"
    message = f"unknown key {first!r} ({expected})"
    if len(unknown) > 1:
        message += f"; also unknown: {', '.join(repr(k) for k in unknown[1:])}"
    return located.diagnostic((*path, first), message, of_key=True)


def _sentence(error: ValidationError) -> str:
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "type":
        wanted = " or ".join(_JSON_TYPES[t] for t in ([value] if isinstance(value, str) else value))
        return f"{_show(instance)} is {_kind_of(instance)} (expected {wanted})"
    if kind == "format":
        shape = SHAPES[value]
        return f"{_show(instance)} is not {shape.noun} (expected {shape.expected})"
    if kind == "enum":
        choices = ", ".join(_show(v) for v in value)
        hint = difflib.get_close_matches(str(instance), [str(v) for v in value], n=1, cutoff=0.6)
        hint_text = f"; did you mean {hint[0]!r}?" if hint and isinstance(instance, str) else ""
        return f"{_show(instance)} is not allowed (expected one of: {choices}{hint_text})"
    if kind in ("minimum", "maximum"):
        relation = "at least" if kind == "minimum" else "at most"
        return f"{instance} is out of range (expected {relation} {value})"
    if kind == "pattern":
        return f"{_show(instance)} is not of the expected form ({error.schema.get('description', value)})"
    if kind == "minItems":
        return f"the list has {len(instance)} item(s) (expected at least {value})"
    if kind == "minProperties":
        return f"the mapping is empty (expected at least {value} entry)"
    if kind == "uniqueItems":
        return "the list repeats an item (expected every item once)"
    return error.message


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "empty"
