"""The one place that owns the Jinja environment and the escaping filters.

Every value a template writes goes through the filter of the file's language.
Values reach the templates already validated to safe shapes; the filters
escape where the language has an escape, and refuse (naming the value) where
it has none, so that a shape rule loosened by mistake can never produce a
file that means something other than what the topology says.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache

from .errors import RenderError


class UnsafeValue(ValueError):
    """A value has no faithful spelling in the language of the file being rendered."""


_NGINX_TOKEN = re.compile(r"[A-Za-z0-9._:/\[\]@-]+")


def shell_word(value: Any) -> str:
    """One single-quoted shell word whose value is exactly ``value``.

    Always quoted, unlike shlex.quote, so that every value reads as data
    (shellcheck warns on ``client=admin``, which looks like a command).
    """
    return "'" + str(value).replace("'", "'\"'\"'") + "'"


def template_literal(value: Any) -> str:
    """Text that string.Template.substitute gives back unchanged (Harbor's prepare)."""
    text = str(value)
    if "\n" in text:
        raise UnsafeValue(f"{text!r} contains a newline, which an env line cannot hold")
    return text.replace("$", "$$")


def ini_value(value: Any) -> str:
    """A harbor.cfg value that Python 2 and 3 RawConfigParser both read back unchanged."""
    text = str(value)
    if "\n" in text or "\r" in text:
        raise UnsafeValue(f"{text!r} contains a line break")
    if text != text.strip():
        raise UnsafeValue(f"{text!r} has leading or trailing white space, which ConfigParser strips")
    if re.search(r"\s;", text):
        raise UnsafeValue(f"{text!r} contains ' ;', where Python 2's ConfigParser starts a comment")
    return text


def ini_bool(value: bool) -> str:
    return "on" if value else "off"


def sql_string(value: Any) -> str:
    """A single-quoted MySQL string literal, the same under every sql_mode."""
    text = str(value)
    if "\\" in text or "\x00" in text:
        # A backslash means different things with and without NO_BACKSLASH_ESCAPES.
        raise UnsafeValue(f"{text!r} contains a backslash or NUL, which SQL modes read differently")
    return "'" + text.replace("'", "''") + "'"


def sql_identifier(value: Any) -> str:
    text = str(value)
    if not text or "\x00" in text:
        raise UnsafeValue(f"{text!r} cannot be a MySQL identifier")
    return "`" + text.replace("`", "``") + "`"


def pg_identifier(value: Any) -> str:
    """A double-quoted PostgreSQL identifier: exactly this name, never folded to lower case."""
    text = str(value)
    if not text or "\x00" in text or len(text.encode("utf-8")) > 63:
        raise UnsafeValue(f"{text!r} cannot be a PostgreSQL identifier (1 to 63 bytes, no NUL)")
    return '"' + text.replace('"', '""') + '"'


def yaml_string(value: Any) -> str:
    """A single-quoted YAML scalar whose value is exactly ``value``."""
    text = str(value)
    if re.search(r"[\x00-\x1f\x7f]", text):
        raise UnsafeValue(f"{text!r} contains a control character or a line break")
    return "'" + text.replace("'", "''") + "'"


def ansible_string(value: Any) -> str:
    """A YAML string Ansible never templates: a value with {{ in it stays text, never runs on the control machine."""
    return "!unsafe " + yaml_string(value)


_ANSIBLE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def ansible_name(value: Any) -> str:
    """A host or group name of an inventory, as a plain YAML key: a DNS label or a word, nothing to quote."""
    text = str(value)
    if not _ANSIBLE_NAME.fullmatch(text):
        raise UnsafeValue(f"{text!r} is not a plain Ansible host or group name")
    return text


def nginx_token(value: Any) -> str:
    """A bare nginx argument; anything that would need quoting is refused."""
    text = str(value)
    if not _NGINX_TOKEN.fullmatch(text):
        raise UnsafeValue(f"{text!r} is not a plain nginx token")
    return text


def list_field(value: Any) -> str:
    """One field of a tab-separated list line (INSTALL): no tab, no line break, no control character."""
    text = str(value)
    if re.search(r"[\x00-\x1f\x7f]", text):
        raise UnsafeValue(f"{text!r} contains a tab, a line break or another control character")
    return text


def yaml_bool(value: bool) -> str:
    return "true" if value else "false"


FILTERS = {
    "sh": shell_word,
    "tpl": template_literal,
    "ini": ini_value,
    "onoff": ini_bool,
    "sql_string": sql_string,
    "sql_ident": sql_identifier,
    "pg_ident": pg_identifier,
    "yaml": yaml_string,
    "ansible": ansible_string,
    "ansible_name": ansible_name,
    "nginx": nginx_token,
    "yamlbool": yaml_bool,
    "field": list_field,
}


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache, but a cache that cannot be read or written is only a cache missed."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError):
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):  # a full or read-only disk: the next run compiles again
            super().dump_bytecode(bucket)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs: compiling them is most of a render's time.

    Jinja's own per-user directory (created 0700, refused when another user owns
    it); keyed by each template's source, so an edited template compiles anew.
    No cache at all when that directory cannot be had: slower, never wrong.
    """
    try:
        return _BytecodeCache()
    except (OSError, RuntimeError):
        return None


class Renderer:
    """Renders the artifacts of one run from the templates directory."""

    def __init__(self, templates_dir: Path):
        self._directory = templates_dir
        self._plain: dict[str, bytes] = {}
        self._environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            bytecode_cache=_bytecode_cache(),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            # Shell's ${#array[@]} must not open a Jinja comment.
            comment_start_string="{##",
            comment_end_string="##}",
        )
        self._environment.filters.update(FILTERS)

    def plain(self, name: str) -> bytes:
        """A file shipped as it is (a plain script): its bytes, read once per run."""
        if name not in self._plain:
            self._plain[name] = (self._directory / name).read_bytes()
        return self._plain[name]

    def render(self, template: str, artifact: str, **context: Any) -> bytes:
        """The artifact's bytes; any failure is a RenderError naming the artifact."""
        try:
            text = self._environment.get_template(template).render(**context)
        except UnsafeValue as error:
            raise RenderError(f"{artifact}: {error} (template {template})") from error
        except jinja2.TemplateError as error:
            raise RenderError(f"{artifact}: template {template} failed: {error}") from error
        return text.encode("utf-8")
