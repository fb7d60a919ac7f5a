"""AWS cron expressions, checked when a spec is loaded so ``medallion validate`` catches them.

A spec's ``schedule`` becomes the start trigger of the deployed workflow (EventBridge / Glue
cron syntax): ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``. AWS only rejects a
bad expression at deploy time, minutes into a deployment; checking it here reports the spec
file and line instead. Pure text checks: no AWS, no clock.
"""

from __future__ import annotations

import re

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

# field name, low, high, names (index 0 = low)
_FIELDS = [
    ("minutes", 0, 59, []),
    ("hours", 0, 23, []),
    ("day-of-month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, []),
]
_WRAPPED = re.compile(r"^cron\((?P<body>.*)\)$")


def _value(text: str, name: str, low: int, high: int, names: list[str]) -> int:
    upper = text.upper()
    if upper in names:
        return low + names.index(upper)
    if not text.isdigit():
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise ValueError(f"{name} '{text}' is not a number ({allowed})")
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{name} {number} is out of range {low}-{high}")
    return number


def _check_item(item: str, index: int) -> None:
    """One comma-separated item of a field: *, a value, a range, a step, or a special form."""
    name, low, high, names = _FIELDS[index]
    if item == "*":
        return
    if item == "?":
        if index not in (2, 4):
            raise ValueError(f"'?' is only allowed in day-of-month or day-of-week, not in {name}")
        return
    if index == 2 and (item in ("L", "LW") or re.fullmatch(r"\d{1,2}W", item)):
        if item.endswith("W") and item != "LW":
            _value(item[:-1], name, low, high, names)
        return
    if index == 4:
        if item == "L" or re.fullmatch(r"\w{1,3}L", item):
            if item != "L":
                _value(item[:-1], name, low, high, names)
            return
        if "#" in item:
            day, _, nth = item.partition("#")
            _value(day, name, low, high, names)
            if not (nth.isdigit() and 1 <= int(nth) <= 5):
                raise ValueError(f"day-of-week '{item}': the number after # must be 1-5")
            return
    base, slash, step = item.partition("/")
    if slash and not (step.isdigit() and int(step) >= 1):
        raise ValueError(f"{name} '{item}': the increment after / must be a positive number")
    if base == "*":
        if not slash:
            raise ValueError(f"{name} '{item}' is not valid")
        return
    start, dash, end = base.partition("-")
    first = _value(start, name, low, high, names)
    if dash:
        last = _value(end, name, low, high, names)
        if last < first and index not in (4,):
            raise ValueError(f"{name} range '{base}' runs backwards")


def check_cron(expression: str) -> str:
    """Return ``expression`` if it is a valid AWS cron expression, else raise ValueError.

    Why here: a typo in a schedule would otherwise surface only when CloudFormation or Glue
    rejects the trigger during ``medallion deploy``.
    """
    wrapped = _WRAPPED.match(expression.strip())
    if not wrapped:
        raise ValueError(f"'{expression}' is not an AWS cron expression; write "
                         "cron(Minutes Hours Day-of-month Month Day-of-week Year), e.g. cron(0 7 * * ? *)")
    fields = wrapped["body"].split()
    if len(fields) != 6:
        raise ValueError(f"'{expression}' has {len(fields)} field(s); AWS cron needs 6: "
                         "Minutes Hours Day-of-month Month Day-of-week Year, e.g. cron(0 7 * * ? *)")
    for index, text in enumerate(fields):
        for item in text.split(","):
            if not item:
                raise ValueError(f"{_FIELDS[index][0]} '{text}' has an empty list item")
            try:
                _check_item(item, index)
            except ValueError as exc:
                raise ValueError(f"'{expression}': {exc}") from None
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"'{expression}': exactly one of day-of-month and day-of-week must be '?' "
                         "(AWS cron cannot set both), e.g. cron(0 7 * * ? *)")
    return expression.strip()
