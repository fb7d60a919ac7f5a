"""One more day of data: the generated raw files without their last business day, or the files
split into one file per business day (a source that delivers daily files).

Why: a daily incremental run is measured as "everything up to yesterday, committed; then one
day arrives". The generator draws a whole period at once (chunks never see each other, so it
cannot stop at a day and resume), so the day is taken out afterwards instead: the orders
whose local business date is the last one in the data, with their option rows, are left out of
a copy of the files. Running on the copy and then on the original is "one appended day".

Records are read and written with the csv module (quoted newlines stay inside their record)
and ``surrogateescape``, so bytes that are not UTF-8 (a quirk of the raw data) pass through as
they are. A record whose time does not parse stays in the copy: it belongs to no day.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sample_data.generate import DATE_DIM, ITEMS, OPTIONS

_OPEN = {"encoding": "utf-8", "errors": "surrogateescape", "newline": ""}


def _local_date(text: str, zone: ZoneInfo) -> date | None:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).astimezone(zone).date()
    except ValueError:
        return None


def split_last_day(src: Path, before: Path, timezone: str = "America/New_York") -> dict[str, object]:
    """Write ``before/`` = ``src/`` without its last local business day; returns what was left out."""
    zone = ZoneInfo(timezone)
    with open(src / ITEMS, **_OPEN) as fh:
        reader = csv.reader(fh)
        header = next(reader)
        at = header.index("CREATION_TIME_UTC")
        last = max(d for d in (_local_date(row[at], zone) for row in reader if len(row) > at) if d is not None)
    before.mkdir(parents=True, exist_ok=True)
    orders: set[str] = set()
    kept = left = 0
    with open(src / ITEMS, **_OPEN) as fh, open(before / ITEMS, "w", **_OPEN) as out:
        reader, writer = csv.reader(fh), csv.writer(out, lineterminator="\n")
        writer.writerow(next(reader))
        order_at = header.index("ORDER_ID")
        for row in reader:
            if len(row) > at and _local_date(row[at], zone) == last:
                orders.add(row[order_at])
                left += 1
            else:
                writer.writerow(row)
                kept += 1
    options_left = 0
    with open(src / OPTIONS, **_OPEN) as fh, open(before / OPTIONS, "w", **_OPEN) as out:
        reader, writer = csv.reader(fh), csv.writer(out, lineterminator="\n")
        option_header = next(reader)
        writer.writerow(option_header)
        order_at = option_header.index("ORDER_ID")
        for row in reader:
            if len(row) > order_at and row[order_at] in orders:
                options_left += 1
            else:
                writer.writerow(row)
    shutil.copyfile(src / DATE_DIM, before / DATE_DIM)
    return {"day": last.isoformat(), "items_kept": kept, "items_left_out": left, "orders_left_out": len(orders),
            "options_left_out": options_left}


UNDATED = "undated"  # records whose time does not parse, and options whose order has no line


def split_by_day(src: Path, out: Path, timezone: str = "America/New_York") -> dict[str, object]:
    """Write ``out/order_items/<day>.csv`` and ``out/order_item_options/<day>.csv`` (one file per
    local business day, each with the header; an option goes with its order's day) and copy
    date_dim.csv: the raw data as a source that delivers one file a day. Returns the days."""
    zone = ZoneInfo(timezone)
    items_dir, options_dir = out / ITEMS.removesuffix(".csv"), out / OPTIONS.removesuffix(".csv")
    items_dir.mkdir(parents=True, exist_ok=True)
    options_dir.mkdir(parents=True, exist_ok=True)
    day_of_order: dict[str, str] = {}
    with open(src / ITEMS, **_OPEN) as fh:
        reader = csv.reader(fh)
        header = next(reader)
        at, order_at = header.index("CREATION_TIME_UTC"), header.index("ORDER_ID")
        counts = _fan_out(reader, header, items_dir, lambda row: _day(row, at, zone),
                          lambda row, day: day_of_order.setdefault(row[order_at], day) if len(row) > order_at else None)
    with open(src / OPTIONS, **_OPEN) as fh:
        reader = csv.reader(fh)
        option_header = next(reader)
        order_at = option_header.index("ORDER_ID")
        options = _fan_out(reader, option_header, options_dir,
                           lambda row: day_of_order.get(row[order_at], UNDATED) if len(row) > order_at else UNDATED)
    shutil.copyfile(src / DATE_DIM, out / DATE_DIM)
    days = sorted(d for d in counts if d != UNDATED)
    return {"days": days, "last_day": days[-1], "items": counts, "options": options}


def _day(row: list[str], at: int, zone: ZoneInfo) -> str:
    found = _local_date(row[at], zone) if len(row) > at else None
    return found.isoformat() if found else UNDATED


def _fan_out(reader, header: list[str], folder: Path, day_of, seen=None) -> dict[str, int]:
    """Write each record to its day's file (files stay open: one per day)."""
    files: dict[str, object] = {}
    writers: dict[str, object] = {}
    counts: dict[str, int] = {}
    try:
        for row in reader:
            day = day_of(row)
            if seen is not None:
                seen(row, day)
            if day not in writers:
                files[day] = open(folder / f"{day}.csv", "w", **_OPEN)
                writers[day] = csv.writer(files[day], lineterminator="\n")
                writers[day].writerow(header)
            writers[day].writerow(row)
            counts[day] = counts.get(day, 0) + 1
    finally:
        for fh in files.values():
            fh.close()
    return counts
