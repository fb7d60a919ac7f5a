"""Selection: which specs a command works on.

Selectors (space or comma separated, unioned): a spec name (``silver.orders`` or just
``orders`` when unambiguous), ``layer:silver``, ``+name`` (with everything upstream),
``name+`` (with everything downstream), ``+name+`` (both); the operators apply to layers too
(``layer:bronze+`` is bronze and everything downstream of it).
"""

from __future__ import annotations

from engine.errors import UsageError
from engine.plan.graph import Graph
from engine.spec.suggest import did_you_mean


def _closure(graph: Graph, start: str, edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for nxt in edges[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _resolve_name(graph: Graph, word: str) -> str:
    if word in graph.specs:
        return word
    short = [n for n in graph.specs if n.split(".", 1)[1] == word]
    if len(short) == 1:
        return short[0]
    if len(short) > 1:
        raise UsageError(f"'{word}' is ambiguous: {', '.join(sorted(short))}; use the full name")
    if "." not in word:  # a short name: suggest among short names, shown as full names
        by_short = {n.split(".", 1)[1]: n for n in graph.specs}
        close = did_you_mean(word, by_short)
        if close:
            guess = close.split("'")[1]
            raise UsageError(f"no spec named '{word}' (did you mean '{by_short.get(guess, guess)}'?)")
    raise UsageError(f"no spec named '{word}'{did_you_mean(word, graph.specs)}")


def select(graph: Graph, selectors: list[str] | None) -> list[str]:
    """The selected spec names in run order (all specs when there are no selectors)."""
    words = [w for s in (selectors or []) for w in s.replace(",", " ").split()]
    if not words:
        return list(graph.order)
    chosen: set[str] = set()
    layers = sorted({graph.layer_of(n) for n in graph.specs})
    for word in words:
        if word.startswith(("layer:", "+layer:")):
            up, down = word.startswith("+"), word.endswith("+")
            layer = word.strip("+").split(":", 1)[1]
            if layer not in layers:
                raise UsageError(f"no spec in layer '{layer}'{did_you_mean(layer, layers)}")
            members = {n for n in graph.specs if graph.layer_of(n) == layer}
            chosen |= members
            for name in members:  # layer:bronze+ is bronze and everything downstream of it
                if up:
                    chosen |= _closure(graph, name, graph.upstream)
                if down:
                    chosen |= _closure(graph, name, graph.downstream)
            continue
        up, down = word.startswith("+"), word.endswith("+")
        name = _resolve_name(graph, word.strip("+"))
        chosen.add(name)
        if up:
            chosen |= _closure(graph, name, graph.upstream)
        if down:
            chosen |= _closure(graph, name, graph.downstream)
    return [n for n in graph.order if n in chosen]
