"""Shapes and filters: what reaches a file is safe in that file's language, or refused."""

from __future__ import annotations

import configparser
import shlex
import subprocess
from string import Template

import pytest

from generator.formats import SHAPES, split_http_url
from generator.templating import UnsafeValue, ini_value, nginx_token, shell_word, sql_string, template_literal

HOSTILE = ["a;b", "$(reboot)", "`id`", "a'b", 'a"b', "a b", "a\nb", "../etc", "a\\b", "${HOME}", "a#b"]


@pytest.mark.parametrize("value", ["plain", "it's", "$(reboot)", "`id`", "a b\tc", "'", "", "ü"])
def test_shell_word_is_read_back_by_a_real_shell(value):
    assert shlex.split(shell_word(value)) == [value]
    printed = subprocess.run(["bash", "-c", f"printf %s {shell_word(value)}"], capture_output=True, text=True, timeout=10)
    assert printed.stdout == value


@pytest.mark.parametrize("value", ["a$b", "$$", "x$ui_url"])
def test_template_literal_survives_string_template(value):
    assert Template(template_literal(value)).substitute() == value


def test_ini_value_refuses_what_configparser_would_change():
    for bad in ("a ;b", " lead", "trail ", "a\nb"):
        with pytest.raises(UnsafeValue):
            ini_value(bad)
    parser = configparser.RawConfigParser()
    parser.read_string(f"[configuration]\nk = {ini_value('50% ok; fine')}\n")
    assert parser.get("configuration", "k") == "50% ok; fine"


def test_sql_string_doubles_quotes_and_refuses_backslashes():
    assert sql_string("it's") == "'it''s'"
    with pytest.raises(UnsafeValue):
        sql_string("a\\b")


def test_nginx_token_refuses_anything_that_needs_quoting():
    assert nginx_token("10.0.0.1") == "10.0.0.1"
    for bad in ("a;b", "a b", "a{b", "$var", "'x'"):
        with pytest.raises(UnsafeValue):
            nginx_token(bad)


@pytest.mark.parametrize("shape", sorted(set(SHAPES) - {"config-text", "note"}))
def test_no_shape_admits_shell_or_config_metacharacters(shape):
    for value in HOSTILE:
        assert not SHAPES[shape].check(value), f"{shape} admits {value!r}"


def test_config_text_admits_mail_senders_but_no_metacharacters():
    check = SHAPES["config-text"].check
    assert check("admin <sample_admin@mydomain.com>")
    assert check("ou=people,dc=mydomain,dc=com")
    for value in HOSTILE:
        if value not in ("a b", "../etc"):  # plain text in ini and env files
            assert not check(value), value


def test_external_url_parts():
    assert split_http_url("https://registry.example.com:8443") == ("https", "registry.example.com", 8443)
    assert split_http_url("http://10.222.76.70/") == ("http", "10.222.76.70", None)
    for bad in ("http://user@host", "http://host/path", "http://host?x", "http://Host", "http://host:99999"):
        assert split_http_url(bad) is None, bad


def test_a_note_is_never_written_into_a_file(tmp_path):
    """'note' (lint.accept reasons) admits any printable text because no template ever sees it."""
    from tests.helpers import ROOT, compiled

    planted = "planted; $(reboot) `id` 'quoted' #7f3a"
    assert SHAPES["note"].check(planted)
    topology = tmp_path / "topology.yaml"
    text = (ROOT / "topology.yaml").read_text()
    topology.write_text(text.replace("reason: \"the seed's Ceph is a single monitor on the admin node, as built in the write-up\"",
                                     "reason: " + repr(planted).replace("\\'", "''")))
    _, tree = compiled(topology)
    assert planted in topology.read_text()
    assert not any(b"7f3a" in artifact.content for artifact in tree.values())
