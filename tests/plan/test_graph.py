import pytest

from engine.errors import SpecError, SpecErrors
from engine.plan.graph import build_graph, load_all
from engine.plan.render import dot, mermaid
from engine.plan.select import select
from engine.errors import UsageError


def spec(name: str, inputs: dict[str, str] | None = None) -> str:
    if not inputs:
        body = "steps:\n  - type: read\n    format: parquet\n    path: raw/x\n"
        return f"name: {name}\n{body}"
    ins = "".join(f"  {alias}: {table}\n" for alias, table in inputs.items())
    first = next(iter(inputs))
    return f"name: {name}\ninputs:\n{ins}steps:\n  - type: filter\n    input: {first}\n    condition: 'true'\n"


DIAMOND = {
    "pipelines/bronze/a.yaml": spec("bronze.a"),
    "pipelines/bronze/b.yaml": spec("bronze.b"),
    "pipelines/silver/s.yaml": spec("silver.s", {"a": "bronze.a", "b": "bronze.b"}),
    "pipelines/silver/t.yaml": spec("silver.t", {"a": "bronze.a"}),
    "marts/g.yaml": spec("gold.g", {"s": "silver.s", "t": "silver.t"}),
    "marts/h.yaml": spec("gold.h", {"t": "silver.t"}),
}


def graph_of(make_project, files):
    root = make_project(files)
    return build_graph(load_all(root, ["pipelines", "marts"], {}))


def test_order_respects_dependencies_and_layers(make_project):
    g = graph_of(make_project, DIAMOND)
    assert g.order == ["bronze.a", "bronze.b", "silver.s", "silver.t", "gold.g", "gold.h"]
    assert g.upstream["gold.g"] == {"silver.s", "silver.t"}
    assert g.downstream["bronze.a"] == {"silver.s", "silver.t"}


def test_cycle_is_named_with_the_loop(make_project):
    files = {
        "pipelines/silver/x.yaml": spec("silver.x", {"z": "silver.z"}),
        "pipelines/silver/y.yaml": spec("silver.y", {"x": "silver.x"}),
        "pipelines/silver/z.yaml": spec("silver.z", {"y": "silver.y"}),
    }
    with pytest.raises(SpecError) as err:
        graph_of(make_project, files)
    message = str(err.value)
    assert "dependency cycle:" in message
    loop = message.split("dependency cycle: ")[1].split(" -> ")
    assert loop[0] == loop[-1] and set(loop) == {"silver.x", "silver.y", "silver.z"} and len(loop) == 4
    # each arrow follows data flow: x feeds y, y feeds z, z feeds x
    flows = {("silver.x", "silver.y"), ("silver.y", "silver.z"), ("silver.z", "silver.x")}
    assert all(pair in flows for pair in zip(loop, loop[1:]))


def test_two_specs_writing_one_table(make_project):
    files = {"pipelines/bronze/a.yaml": spec("bronze.a"), "pipelines/bronze/a2.yaml": spec("bronze.a")}
    with pytest.raises(SpecError) as err:
        graph_of(make_project, files)
    assert str(err.value) == ("pipelines/bronze/a2.yaml:1: table 'bronze.a' is also written by "
                              "pipelines/bronze/a.yaml; each table has exactly one spec")


def test_input_nobody_produces_suggests(make_project):
    files = {"pipelines/bronze/a.yaml": spec("bronze.items"),
             "pipelines/silver/s.yaml": spec("silver.s", {"items": "bronze.itms"})}
    with pytest.raises(SpecError) as err:
        graph_of(make_project, files)
    assert str(err.value) == ("pipelines/silver/s.yaml:3: input 'items' reads 'bronze.itms', which no spec "
                              "writes (did you mean 'bronze.items'?)")


def test_errors_from_several_files_are_all_reported(make_project):
    files = {"pipelines/bronze/a.yaml": spec("bronze.a").replace("read", "raed"),
             "pipelines/bronze/b.yaml": spec("bronze.b").replace("format", "fromat")}
    with pytest.raises(SpecErrors) as err:
        graph_of(make_project, files)
    messages = [str(e) for e in err.value.errors]
    assert messages[0] == "pipelines/bronze/a.yaml:3: unknown step type 'raed' (did you mean 'read'?)"
    # the misspelled key, and the required key it leaves missing, both at their lines
    assert "pipelines/bronze/b.yaml:4: unknown key 'fromat' in steps.0 (did you mean 'format'?)" in messages
    assert "pipelines/bronze/b.yaml:3: missing required key 'format'" in messages


@pytest.mark.parametrize("selectors, expected", [
    (None, ["bronze.a", "bronze.b", "silver.s", "silver.t", "gold.g", "gold.h"]),
    (["silver.t"], ["silver.t"]),
    (["t"], ["silver.t"]),
    (["layer:gold"], ["gold.g", "gold.h"]),
    (["+gold.h"], ["bronze.a", "silver.t", "gold.h"]),
    (["silver.t+"], ["silver.t", "gold.g", "gold.h"]),
    (["+silver.s+"], ["bronze.a", "bronze.b", "silver.s", "gold.g"]),
    (["bronze.b+", "layer:bronze"], ["bronze.a", "bronze.b", "silver.s", "gold.g"]),
    (["bronze.b, gold.h"], ["bronze.b", "gold.h"]),
    (["layer:silver+"], ["silver.s", "silver.t", "gold.g", "gold.h"]),
    (["+layer:silver"], ["bronze.a", "bronze.b", "silver.s", "silver.t"]),
])
def test_selection(make_project, selectors, expected):
    assert select(graph_of(make_project, DIAMOND), selectors) == expected


def test_selection_errors(make_project):
    g = graph_of(make_project, DIAMOND)
    with pytest.raises(UsageError, match=r"no spec named 'silver.tt' \(did you mean 'silver.t'\?\)"):
        select(g, ["silver.tt"])
    with pytest.raises(UsageError, match=r"no spec in layer 'glod' \(did you mean 'gold'\?\)"):
        select(g, ["layer:glod"])
    with pytest.raises(UsageError, match=r"no spec named 'tt' \(did you mean 'silver.t'\?\)"):
        select(g, ["tt"])


def test_mermaid_and_dot_have_every_edge(make_project):
    g = graph_of(make_project, DIAMOND)
    m = mermaid(g, g.order)
    edges = {(a, b) for b in g.upstream for a in g.upstream[b]}
    assert len(edges) == 6
    for a, b in edges:
        assert f"{a.replace('.', '__')} --> {b.replace('.', '__')}" in m
        assert f'"{a}" -> "{b}";' in dot(g, g.order)
    assert m.startswith("flowchart LR") and "subgraph gold" in m
    only = mermaid(g, ["silver.t", "gold.h"])
    assert "silver__t --> gold__h" in only and "bronze__a" not in only
