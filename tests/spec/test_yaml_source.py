from pathlib import Path

import pytest

from engine.errors import SpecError
from engine.spec.yaml_source import load_yaml_text


def test_lines_of_keys_and_items():
    text = "name: a\nsteps:\n  - type: read\n    path: x\n  - type: filter\n"
    doc = load_yaml_text(text, Path("s.yaml"))
    assert doc.line_of(("name",)) == 1
    assert doc.line_of(("steps",)) == 2
    assert doc.line_of(("steps", 0)) == 3
    assert doc.line_of(("steps", 0, "path")) == 4
    assert doc.line_of(("steps", 1, "type")) == 5
    # an unknown deeper location falls back to its nearest known ancestor
    assert doc.line_of(("steps", 1, "condition")) == 5


def test_duplicate_key_is_an_error_at_its_line():
    with pytest.raises(SpecError) as err:
        load_yaml_text("a: 1\nb: 2\na: 3\n", Path("dup.yaml"))
    assert str(err.value) == "dup.yaml:3: duplicate key 'a'"


def test_syntax_error_names_file_and_line():
    with pytest.raises(SpecError) as err:
        load_yaml_text("name: x\nsteps: [a, b\nother: 1\n", Path("bad.yaml"))
    assert str(err.value).startswith("bad.yaml:")
    assert "YAML syntax error" in str(err.value)
    assert err.value.line in (2, 3)


def test_yaml_12_booleans_only():
    doc = load_yaml_text("on: [id]\nanswer: yes\nflag: true\noff: FALSE\n", Path("b.yaml"))
    assert doc.data == {"on": ["id"], "answer": "yes", "flag": True, "off": False}
