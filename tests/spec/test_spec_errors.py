"""A bad spec is reported as `file:line: message (did you mean ...)`."""

from pathlib import Path

import pytest

from engine.errors import SpecError, SpecErrors
from engine.spec.loader import load_spec

GOOD = """\
name: silver.items
inputs:
  items: bronze.items
steps:
  - type: filter
    condition: price > 0
  - type: derive
    columns:
      total: price * 2
output:
  table: silver.items
  keys: [id]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, variables=None):
    return load_spec(write(tmp_path, text), variables or {}, display_path=Path("pipelines/spec.yaml"))


def test_good_spec_loads(tmp_path):
    loaded = load(tmp_path, GOOD)
    assert loaded.spec.name == "silver.items"
    assert loaded.spec.layer == "silver"
    assert [s.type for s in loaded.spec.steps] == ["filter", "derive"]
    assert loaded.step_location(1) == "pipelines/spec.yaml:7"


def test_misspelled_step_type(tmp_path):
    with pytest.raises(SpecError) as err:
        load(tmp_path, GOOD.replace("type: filter", "type: fitler"))
    assert str(err.value) == "pipelines/spec.yaml:5: unknown step type 'fitler' (did you mean 'filter'?)"


def test_misspelled_key_in_step(tmp_path):
    with pytest.raises(SpecError) as err:
        load(tmp_path, GOOD.replace("condition:", "conditon:"))
    text = str(err.value)
    # two problems: the unknown key, and the required key it was meant to be
    assert "pipelines/spec.yaml:6: unknown key 'conditon' in steps.0 (did you mean 'condition'?)" in text


def test_misspelled_top_level_key(tmp_path):
    with pytest.raises(SpecError) as err:
        load(tmp_path, GOOD.replace("inputs:", "inptus:"))
    assert "pipelines/spec.yaml:2: unknown key 'inptus' in the top level (did you mean 'inputs'?)" in str(err.value)


def test_misspelled_nested_key(tmp_path):
    with pytest.raises(SpecError) as err:
        load(tmp_path, GOOD.replace("  keys: [id]", "  kyes: [id]"))
    assert str(err.value) == "pipelines/spec.yaml:12: unknown key 'kyes' in output (did you mean 'keys'?)"


def test_unknown_frame_reference(tmp_path):
    text = GOOD.replace("  - type: filter\n", "  - type: filter\n    input: itemz\n")
    with pytest.raises(SpecError) as err:
        load(tmp_path, text)
    assert str(err.value) == "pipelines/spec.yaml:6: unknown frame 'itemz' (did you mean 'items'?)"


def test_bad_literal_value(tmp_path):
    text = GOOD.replace("  - type: filter\n    condition: price > 0\n",
                        "  - type: join\n    right: items\n    on: [id]\n    how: inerr\n")
    with pytest.raises(SpecError) as err:
        load(tmp_path, text)
    assert str(err.value).startswith("pipelines/spec.yaml:8: steps.0.how: 'inerr' is not allowed (did you mean 'inner'?)")


def test_missing_required_key(tmp_path):
    with pytest.raises(SpecError) as err:
        load(tmp_path, GOOD.replace("    condition: price > 0\n", ""))
    assert str(err.value) == "pipelines/spec.yaml:5: missing required key 'condition'"


def test_several_errors_reported_together(tmp_path):
    text = GOOD.replace("type: filter", "type: fitler").replace("  keys: [id]", "  kyes: [id]")
    with pytest.raises(SpecErrors) as err:
        load(tmp_path, text)
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("pipelines/spec.yaml:5:")
    assert lines[1].startswith("pipelines/spec.yaml:12:")


def test_bad_table_name(tmp_path):
    with pytest.raises(SpecError) as err:
        load(tmp_path, GOOD.replace("items: bronze.items", "items: platinum.items"))
    assert "pipelines/spec.yaml:3:" in str(err.value)
    assert "layer must be one of bronze, silver, gold" in str(err.value)


def test_output_table_must_match_name(tmp_path):
    with pytest.raises(SpecError) as err:
        load(tmp_path, GOOD.replace("  table: silver.items", "  table: silver.other"))
    assert "differs from name 'silver.items'" in str(err.value)


def test_output_table_defaults_to_name(tmp_path):
    loaded = load(tmp_path, GOOD.replace("  table: silver.items\n", ""))
    assert loaded.spec.output.table == "silver.items"


def test_step_without_input_when_several_inputs(tmp_path):
    text = GOOD.replace("  items: bronze.items\n", "  items: bronze.items\n  other: bronze.other\n")
    with pytest.raises(SpecError) as err:
        load(tmp_path, text)
    assert str(err.value).startswith("pipelines/spec.yaml:6: step 1 (filter) has no input")


def test_duplicate_frame_name(tmp_path):
    text = GOOD.replace("    condition: price > 0\n", "    condition: price > 0\n    as: items\n")
    with pytest.raises(SpecError) as err:
        load(tmp_path, text)
    assert str(err.value) == "pipelines/spec.yaml:7: frame 'items' is already defined"


@pytest.mark.parametrize(("incremental", "message"), [
    ("{by: order_date, affected_keys: user_id}",
     "incremental: set one of by (recompute a date range) or affected_keys (recompute entities), not both"),
    ("{affected_keys: user_id, lookback_days: 2}",
     "incremental: lookback_days goes with by (a date range), not with affected_keys"),
    ("{by: order_date, keys: [id]}", "incremental: keys belong to a watermark (bronze) and do not mix with by"),
    ("{lookback_days: 2}", "incremental: needs column and keys (a spec that reads files: a watermark), "
                           "or by / affected_keys (a spec that reads lake tables)"),
    ("{by: order_date, lookback_day: 2}", "unknown key 'lookback_day' in incremental (did you mean 'lookback_days'?)"),
])
def test_incremental_combinations(tmp_path, incremental, message):
    with pytest.raises(SpecError) as err:
        load(tmp_path, GOOD + f"incremental: {incremental}\n")
    assert str(err.value) == f"pipelines/spec.yaml:13: {message}"


def test_incremental_by_is_for_specs_that_read_tables(tmp_path):
    bronze = "name: bronze.x\nsteps:\n  - {type: read, format: csv, path: a.csv}\nincremental: {by: d}\n"
    with pytest.raises(SpecError) as err:
        load(tmp_path, bronze)
    assert "incremental.by is for silver and gold specs that read lake tables (inputs:)" in str(err.value)
    spec = load(tmp_path, GOOD + "incremental: {affected_keys: id}\n").spec
    assert spec.incremental.affected_keys == ["id"] and spec.incremental.grain == ["id"]
