"""A header that does not match is described column by column (was: "unexpected , , ")."""

from engine.spec.header_diff import header_mismatch


def test_blank_and_extra_columns_are_named_by_position():
    assert header_mismatch(["a", "b", "c"], ["a", "", " ", "d"]) == (
        "column 2: expected 'b', found (blank); column 3: expected 'c', found (blank); "
        "column 4: expected (nothing), found 'd' (4 column(s) found, 3 declared)")


def test_a_renamed_column():
    assert header_mismatch(["id", "price"], ["id", "prize"]) == "column 2: expected 'price', found 'prize'"
