"""Conservation: every source row is either in the output or counted where it went.

rows in = rows out + quarantined + filtered + deduplicated + superseded + dropped. A spec that
declares ``conservation: <input>`` fails (before its commit) when the equation does not hold, so
rows can never disappear silently between bronze and silver. Specs that read files (bronze)
balance the records they read (plus, when incremental, the rows already stored) the same way:
rejected records count as quarantined, rows outside the re-read window as filtered, identical
re-deliveries as deduplicated and older versions moved to the audit table as superseded.
"""

from __future__ import annotations

from engine.errors import TerminalError
from engine.steps.context import Loss

KINDS = ("quarantined", "filtered", "deduplicated", "superseded", "dropped")


def account(source: str, rows_in: int, rows_out: int, losses: list[Loss]) -> dict[str, object]:
    """The conservation table of one spec (counts every loss)."""
    table: dict[str, object] = {"source": source, "rows_in": rows_in, "rows_out": rows_out}
    for kind in KINDS:
        table[kind] = sum(loss.count() for loss in losses if loss.kind == kind)
    accounted = rows_out + sum(int(table[k]) for k in KINDS)  # type: ignore[call-overload]
    table["balanced"] = accounted == rows_in
    table["by_step"] = [{"step": loss.step, "kind": loss.kind, "rows": loss.count()} for loss in losses]
    return table


def check(table: dict[str, object]) -> None:
    """Raise when rows went missing (or appeared) without being accounted for."""
    if not table["balanced"]:
        parts = " + ".join(f"{k} {table[k]}" for k in KINDS)
        raise TerminalError(f"conservation failed for input '{table['source']}': rows in {table['rows_in']} "
                            f"!= rows out {table['rows_out']} + {parts}; a join or step changed the row "
                            "count without accounting for it")
