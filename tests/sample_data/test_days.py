"""The raw files split into one file per business day (``medallion sample --daily``).

A hand-made folder: three order lines (one with a quoted newline, one whose time does not
parse), their options and an orphan option; the expected files are written out by hand.
"""

from __future__ import annotations

from sample_data.days import split_by_day
from sample_data.generate import DATE_DIM, ITEMS, OPTIONS

HEADER = "APP_NAME,CREATION_TIME_UTC,ORDER_ID,LINEITEM_ID,ITEM_NAME\n"
OPTIONS_HEADER = "ORDER_ID,LINEITEM_ID,OPTION_NAME\n"


def test_each_line_goes_to_its_local_business_day(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / ITEMS).write_text(HEADER + "A,2024-02-20T03:30:00Z,o1,l1,\"two\nlines\"\n"  # 22:30 on the 19th in New York
                             "A,2024-02-20T15:00:00.123Z,o2,l2,Bowl\n"
                             "A,not a time,o3,l3,Wrap\n", encoding="utf-8")
    (src / OPTIONS).write_text(OPTIONS_HEADER + "o1,l1,Egg\no2,l2,Rice\no2,l2,Rice\no9,l9,Lost\n", encoding="utf-8")
    (src / DATE_DIM).write_bytes(b"date_key\r\n01-01-2023\r\n")
    found = split_by_day(src, out)
    assert (found["days"], found["last_day"]) == (["2024-02-19", "2024-02-20"], "2024-02-20")
    assert found["items"] == {"2024-02-19": 1, "2024-02-20": 1, "undated": 1}
    assert found["options"] == {"2024-02-19": 1, "2024-02-20": 2, "undated": 1}
    items = out / "order_items"
    assert (items / "2024-02-19.csv").read_text() == HEADER + "A,2024-02-20T03:30:00Z,o1,l1,\"two\nlines\"\n"
    assert (items / "2024-02-20.csv").read_text() == HEADER + "A,2024-02-20T15:00:00.123Z,o2,l2,Bowl\n"
    assert (items / "undated.csv").read_text() == HEADER + "A,not a time,o3,l3,Wrap\n"
    options = out / "order_item_options"
    assert (options / "2024-02-20.csv").read_text() == OPTIONS_HEADER + "o2,l2,Rice\no2,l2,Rice\n"
    assert (options / "undated.csv").read_text() == OPTIONS_HEADER + "o9,l9,Lost\n"  # its order has no line
    assert (out / DATE_DIM).read_bytes() == b"date_key\r\n01-01-2023\r\n"
