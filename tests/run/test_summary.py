from decimal import Decimal

from engine.run.summary import format_value


def test_format_value():
    assert format_value(Decimal("1807974.744"), "money") == "$1,807,974.74"
    assert format_value(0.226, "percent") == "22.6%"
    assert format_value(20301, "integer") == "20,301"
    assert format_value(20301, None) == "20,301"
    assert format_value(0.4321, "number") == "0.43"
    assert format_value(None, "money") == "—"
    assert format_value(False, None) == "False"
